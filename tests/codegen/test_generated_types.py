"""Generated code type-checks under ``mypy --strict`` and ``pyright`` for a schema that
uses every validator and the system tables' ids, imports at run time, and catches
planted errors (each line marked ``# ERROR`` in the fixture's planted.py, nothing else)."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyconvex.codegen import write_generated

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "codegen_app"
PYRIGHT = REPO / "node_modules" / ".bin" / "pyright"
SOURCES = ["backend", "typed_calls.py", "planted.py"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("_generated", "__pycache__"))
    (root / "mypy.ini").write_text(
        "[mypy]\nstrict = True\nexplicit_package_bases = True\n\n[mypy-pyconvex.*]\nfollow_imports = silent\n"
    )
    (root / "pyrightconfig.json").write_text(json.dumps({
        "pythonVersion": "3.11", "typeCheckingMode": "strict", "extraPaths": [str(REPO)],
        "venvPath": str(REPO), "venv": ".venv", "include": SOURCES,
        "exclude": ["**/_generated/__init__.py"],
    }))
    return root


def _marked(path: Path) -> set[int]:
    return {i for i, line in enumerate(path.read_text().splitlines(), 1) if "# ERROR" in line}


def mypy_errors(project: Path) -> list[tuple[str, int, str]]:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", *SOURCES], cwd=project,
        capture_output=True, text=True, timeout=600, env={**os.environ, "MYPYPATH": str(REPO)},
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    out = []
    for line in result.stdout.splitlines():
        m = re.match(r"(.+?):(\d+): error: (.*)", line)
        if m:
            out.append((m[1], int(m[2]), m[3]))
    return out


def pyright_errors(project: Path) -> list[tuple[str, int, str]]:
    assert PYRIGHT.exists(), "npm's pyright is missing: `make setup` (npm ci) installs it"
    result = subprocess.run([str(PYRIGHT), "--outputjson"], cwd=project, capture_output=True,
                            text=True, timeout=600)
    report = json.loads(result.stdout)
    return [
        (str(Path(d["file"]).relative_to(project)), d["range"]["start"]["line"] + 1, d["message"])
        for d in report["generalDiagnostics"] if d["severity"] == "error"
    ]


@pytest.fixture
def generated(project: Path) -> Path:
    write_generated(project / "backend")
    return project


def test_the_generated_files_import(generated: Path) -> None:
    sys.path.insert(0, str(generated / "backend"))
    try:
        model = importlib.import_module("_generated.data_model")
        server = importlib.import_module("_generated.server")
        api = importlib.import_module("_generated.api")
        assert model.StorageId("x") == "x" and model.ScheduledFunctionsId("y") == "y"
        assert set(model.EverythingDoc.__annotations__) >= {"file", "job", "class", "_id"}
        assert server.MutationCtx is not None
        assert api.api.everything.name_of.path == "everything:name_of"
        assert api.internal.everything.user.path == "everything:user"
    finally:
        sys.path.remove(str(generated / "backend"))
        for name in [m for m in sys.modules if m == "_generated" or m.startswith("_generated.")]:
            del sys.modules[name]


def _only_planted(errors: list[tuple[str, int, str]], project: Path, checker: str) -> None:
    planted = _marked(project / "planted.py")
    elsewhere = [e for e in errors if e[0] != "planted.py"]
    assert not elsewhere, f"{checker} reports errors in correct code: {elsewhere}"
    hit = {line for _, line, _ in errors}
    assert hit == planted, f"{checker}: planted {sorted(planted)}, reported {errors}"


def test_mypy_strict_passes_and_catches_the_planted_errors(generated: Path) -> None:
    _only_planted(mypy_errors(generated), generated, "mypy --strict")


def test_pyright_strict_passes_and_catches_the_planted_errors(generated: Path) -> None:
    _only_planted(pyright_errors(generated), generated, "pyright")


def test_strict_table_name_types_false_accepts_any_table(project: Path) -> None:
    schema = project / "backend" / "schema.py"
    text = schema.read_text()
    assert text.endswith("})\n")
    schema.write_text(text[: -len("})\n")] + "}, strict_table_name_types=False)\n")
    write_generated(project / "backend")
    assert "TableName = str" in (project / "backend" / "_generated" / "data_model.py").read_text()
    planted = (project / "planted.py").read_text().splitlines()

    def line_of(needle: str) -> int:
        return next(i for i, line in enumerate(planted, 1) if needle in line)

    # Any table name is accepted; calls on a known table that do not match its types
    # fall back to the untyped signatures (Python has no "str but not these literals").
    accepted = {line_of("no_such_table"), line_of('{"name": 5}'), line_of('get("everything", user)')}
    lines = {line for file, line, _ in mypy_errors(project) if file == "planted.py"}
    assert lines == _marked(project / "planted.py") - accepted


def test_table_names_that_would_clash_get_distinct_types(tmp_path: Path) -> None:
    root = tmp_path / "app"
    (root / "convex").mkdir(parents=True)
    (root / "convex" / "schema.py").write_text(
        "from pyconvex import define_schema, define_table, v\n\n"
        "schema = define_schema({t: define_table({'x': v.id(t), 'f': v.id('_storage')}) for t in "
        "['storage', 'any', 'auth', 'my_table', 'myTable', 'query_ctx']})\n"
    )
    write_generated(root / "convex")
    model = (root / "convex" / "_generated" / "data_model.py").read_text()
    assert 'StorageId = NewType("StorageId", str)' in model  # the user table "storage"
    assert 'Storage2Id = NewType("Storage2Id", str)' in model  # _storage
    assert "'f': Storage2Id" in model
    assert 'MyTableId = NewType' in model and 'MyTable2Id = NewType' in model
    assert "\nAny = " not in model and "\nAuth = " not in model and "\nQueryCtx = " not in model
    (root / "mypy.ini").write_text("[mypy]\nstrict = True\nexplicit_package_bases = True\n\n"
                                   "[mypy-pyconvex.*]\nfollow_imports = silent\n")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "convex"], cwd=root,
        capture_output=True, text=True, timeout=600, env={**os.environ, "MYPYPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stdout
