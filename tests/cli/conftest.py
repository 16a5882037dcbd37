"""A fresh ``pyconvex init`` project, and ``pyconvex dev`` serving it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.devproc import CLI, DevProcess


@pytest.fixture
def project(tmp_path: Path) -> Path:
    subprocess.run([*CLI, "init", str(tmp_path / "app")], check=True, capture_output=True)
    return tmp_path / "app"


@pytest.fixture
def dev(project: Path) -> Iterator[DevProcess]:
    proc = DevProcess(project)
    try:
        proc.expect("Watching")
        yield proc
    finally:
        proc.stop()
