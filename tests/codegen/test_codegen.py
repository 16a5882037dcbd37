"""Generated code: it loads, its references work, and mypy catches type errors with it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyconvex.codegen import generate, write_generated
from pyconvex.testing import ConvexTest

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "typed_app"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "typed_app", ignore=shutil.ignore_patterns("_generated"))
    return tmp_path / "typed_app"


async def test_generated_references_run_against_the_engine(project: Path) -> None:
    # the functions import _generated themselves: codegen bootstraps it first
    write_generated(project / "backend")
    generated = project / "backend" / "_generated"
    assert {p.name for p in generated.iterdir()} >= {"api.py", "data_model.py", "server.py"}
    assert write_generated(project / "backend") == []  # idempotent
    sys.path.insert(0, str(project))
    try:
        from backend._generated.api import api  # type: ignore[import-not-found]

        assert api.messages.send.path == "messages:send"
        async with ConvexTest(project / "backend") as t:
            cid = await t.mutation(api.messages.create_channel, {"name": "general"})
            mid = await t.mutation(api.messages.send, {"channelId": cid, "text": "hi"})
            assert mid.startswith(tuple("0123456789abcdefghjkmnpqrstvwxyz"))
    finally:
        sys.path.remove(str(project))
        for name in [m for m in sys.modules if m == "backend" or m.startswith("backend.")]:
            del sys.modules[name]


def test_generated_data_model_spells_the_schema(project: Path) -> None:
    write_generated(project / "backend")
    files = generate(project / "backend").files
    model = files["data_model.py"]
    assert 'MessagesId = NewType("MessagesId", str)' in model
    assert "'channelId': ChannelsId" in model and "'likes': NotRequired[int]" in model
    assert "KnownTableName = Literal['channels', 'messages']\nTableName = KnownTableName" in model
    server = files["server.py"]
    assert "async def insert(self, table: Literal['messages'], document: _dm.Messages) -> _dm.MessagesId" in server
    assert "def query(self, table: Literal['messages']) -> QueryBuilder[_dm.MessagesDoc]" in server
    # the handler's return annotation gives the reference its return type
    assert "def _MessagesFirst_signature(args: MessagesFirstArgs, /) -> _dm.MessagesDoc | None" in (
        files["api.py"]
    )


def test_mypy_catches_planted_type_errors(project: Path) -> None:
    write_generated(project / "backend")
    messages = project / "backend" / "messages.py"
    # planted: a number where the schema says string, in ctx.db.insert ...
    messages.write_text(messages.read_text().replace(
        '{"channelId": channelId, "text": text}', '{"channelId": channelId, "text": 42}'
    ))
    # ... and in a client call through the generated reference
    script = project / "client_script.py"
    script.write_text(script.read_text().replace('"text": "hi"', '"text": 5'))
    (project / "mypy.ini").write_text(
        "[mypy]\nstrict = True\nexplicit_package_bases = True\n\n"
        "[mypy-pyconvex.*]\nfollow_imports = silent\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "backend", "client_script.py"],
        cwd=project, capture_output=True, text=True, timeout=300,
        env={**os.environ, "MYPYPATH": str(REPO)},
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert result.returncode == 1, result.stdout
    insert_line = 1 + next(i for i, text in enumerate(messages.read_text().splitlines()) if '"text": 42' in text)
    assert any(e.startswith(f"backend/messages.py:{insert_line}:") and "insert" in e for e in errors), errors
    assert any(e.startswith("client_script.py:11:") and "mutation" in e for e in errors), errors
    # and nothing else but their consequence (the failed call's result is Any): the
    # rest of the code type-checks
    assert len([e for e in errors if "[no-any-return]" not in e]) == 2, result.stdout
