"""``args=`` and the handler's parameters must agree, checked when the module loads: a
mismatch used to load fine and fail at the first call as a bare "Server Error"."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyconvex.functions import FunctionsLoadError, load_functions, unload

pytestmark = pytest.mark.one_backend  # loading code opens no database


def _load(tmp_path: Path, body: str) -> None:
    root = tmp_path / "convex"
    root.mkdir()
    (root / "messages.py").write_text("from pyconvex import mutation, query, v\n\n" + body)
    unload(load_functions(root))


def test_a_field_the_handler_does_not_take_is_refused_naming_file_line_and_field(tmp_path: Path):
    with pytest.raises(FunctionsLoadError) as info:
        _load(tmp_path, (
            '@mutation(args={"text": v.string()})\n'
            "async def send(ctx, body):\n"
            "    return body\n"
        ))
    message = str(info.value)
    assert "messages.py:3" in message
    assert "args= declares 'text' but the handler has no parameter 'text'" in message
    assert "send(ctx, **args)" in message


def test_a_parameter_missing_from_args_without_a_default_is_refused(tmp_path: Path):
    with pytest.raises(FunctionsLoadError, match="parameter 'channel' is not in args= and has no default"):
        _load(tmp_path, (
            '@query(args={"text": v.string()})\n'
            "async def find(ctx, text, channel):\n"
            "    return text\n"
        ))


def test_an_optional_field_needs_a_default(tmp_path: Path):
    with pytest.raises(FunctionsLoadError, match=r"makes 'limit' optional .* give it one \(e\.g\. limit=None\)"):
        _load(tmp_path, (
            '@query(args={"limit": v.optional(v.number())})\n'
            "async def recent(ctx, limit):\n"
            "    return limit\n"
        ))


def test_matching_handlers_load(tmp_path: Path):
    _load(tmp_path, (
        '@query(args={"text": v.string(), "limit": v.optional(v.number())})\n'
        "async def a(ctx, text, limit=10):\n    return text\n\n"
        '@query(args={"text": v.string(), "x": v.any()})\n'
        "async def b(ctx, text, **rest):\n    return rest\n\n"
        '@query(args={"text": v.string()})\n'
        "async def c(ctx, *, text, unused=None):\n    return text\n\n"
        "@query(args=v.any())\n"
        "async def d(ctx, **anything):\n    return anything\n"
    ))
