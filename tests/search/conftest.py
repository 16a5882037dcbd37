"""Every test here runs on SQLite and on PostgreSQL (see ``engine_backend``)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _every_backend(engine_backend: str) -> str:
    return engine_backend
