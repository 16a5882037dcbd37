"""The ``server`` fixture for tests/server: the deployment's server in this process on a
port of its own (``inprocess.live_server``), which serves real clients as ``pyconvex
serve`` does without a subprocess per test. Tests that need a process of their own call
``tests.conftest.start_server`` themselves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.inprocess import live_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with live_server(tmp_path / "db.sqlite3") as served:
        yield served.url
