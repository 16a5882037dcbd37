"""Fixtures of the official-client tests."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def node_modules() -> Path:
    path = REPO / "node_modules" / "convex"
    if not path.exists():
        raise RuntimeError("node_modules/convex is missing: run `npm ci` (make test does)")
    return REPO / "node_modules"

