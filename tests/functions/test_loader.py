"""Loading a functions directory: paths, relative imports, atomic reload, clear errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pyconvex.functions import FunctionKind, FunctionsLoadError, load_functions, unload
from pyconvex.functions.registry import BadFunctionPathError, canonicalize_path

pytestmark = pytest.mark.one_backend  # loading code opens no database


def test_paths_and_specials(app_dir: Path):
    registry = load_functions(app_dir)
    try:
        assert registry.functions["messages:send"].kind is FunctionKind.MUTATION
        assert "admin/users:remove" in registry.functions
        assert registry.functions["messages:wipe"].is_public is False
        assert registry.schema is not None and "messages" in registry.schema.tables
        # The user's directory is not importable as `convex` (the official client's name).
        assert all(not name.startswith("convex") for name in registry.modules if name != "__package__")
        assert registry.lookup("messages.js:list") is registry.functions["messages:list"]
    finally:
        unload(registry)


def test_canonical_paths():
    assert canonicalize_path("messages") == "messages:default"
    assert canonicalize_path("messages.js:list") == "messages:list"
    assert canonicalize_path("admin/users:remove") == "admin/users:remove"
    with pytest.raises(BadFunctionPathError):
        canonicalize_path("bad path:x y")


def _write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_syntax_error_names_file_and_line(tmp_path: Path):
    root = tmp_path / "convex"
    _write(root, "good.py", "from pyconvex import query\n@query\nasync def f(ctx):\n    return 1\n")
    _write(root, "bad.py", "x = 1\ndef broken(:\n")
    before = set(sys.modules)
    with pytest.raises(FunctionsLoadError) as info:
        load_functions(root)
    assert "bad.py:2" in str(info.value) and "SyntaxError" in str(info.value)
    assert set(sys.modules) - before == set(), "a failed load must leave nothing imported"


def test_import_error_names_the_line(tmp_path: Path):
    root = tmp_path / "convex"
    _write(root, "m.py", "import os\nraise ValueError('nope')\n")
    with pytest.raises(FunctionsLoadError, match=r"m.py:2: ValueError: nope"):
        load_functions(root)


def test_reload_gets_fresh_modules(tmp_path: Path):
    root = tmp_path / "convex"
    _write(root, "m.py", "from pyconvex import query\n@query\nasync def f(ctx):\n    return 1\n")
    first = load_functions(root)
    _write(root, "m.py", "from pyconvex import query\n@query\nasync def f(ctx):\n    return 2\n")
    second = load_functions(root)
    try:
        assert first.functions["m:f"] is not second.functions["m:f"]
        assert first.generation != second.generation
    finally:
        unload(first)
        unload(second)


def test_reexported_function_keeps_its_own_path(tmp_path: Path):
    root = tmp_path / "convex"
    _write(root, "b.py", "from pyconvex import query\n@query\nasync def f(ctx):\n    return 1\n")
    _write(root, "a.py", "from .b import f\n")
    registry = load_functions(root)
    try:
        assert set(registry.functions) == {"b:f"}
    finally:
        unload(registry)
