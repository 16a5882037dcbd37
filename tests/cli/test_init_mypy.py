"""``mypy .`` in a fresh ``pyconvex init`` project works, with pyconvex's own types
(found through the virtualenv's editable install, as `make run`/`make test` make it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.cli.devproc import CLI


def _mypy(project: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MYPYPATH"}  # only what the venv has
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "."], cwd=project,
                          capture_output=True, text=True, timeout=600, env=env)


def test_mypy_dot_in_a_fresh_project(tmp_path: Path) -> None:
    project = tmp_path / "myapp"
    subprocess.run([*CLI, "init", str(project)], check=True, capture_output=True)
    assert "explicit_package_bases = True" in (project / "mypy.ini").read_text()
    subprocess.run([*CLI, "codegen"], cwd=project, check=True, capture_output=True)
    # a test module importing the generated references, and a module in the typed style
    (project / "test_messages.py").write_text(
        "from convex._generated.api import api\n\nPATH: str = api.messages.send.path\n"
    )
    (project / "convex" / "typed.py").write_text(
        "from pyconvex import mutation, v\n"
        "from ._generated.data_model import MessagesId\n"
        "from ._generated.server import MutationCtx\n\n\n"
        "@mutation(args={'author': v.string(), 'body': v.string()})\n"
        "async def send_typed(ctx: MutationCtx, author: str, body: str) -> MessagesId:\n"
        "    return await ctx.db.insert('messages', {'author': author, 'body': body})\n"
    )
    result = _mypy(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "found twice" not in result.stdout
    # pyconvex's types are really seen (not silently Any): a wrong use is reported as such
    (project / "convex" / "wrong.py").write_text("from pyconvex import v\n\nx: int = v.string()\n")
    result = _mypy(project)
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1 and re.search(r"wrong\.py:3: error: .*\[assignment\]", errors[0]), result.stdout


def test_init_keeps_an_existing_mypy_config(tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text("[tool.mypy]\nstrict = true\n")
    out = subprocess.run([*CLI, "init", str(project)], check=True, capture_output=True, text=True)
    assert not (project / "mypy.ini").exists()
    assert "add explicit_package_bases = true" in out.stdout
