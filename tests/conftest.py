from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
APP = FIXTURES / "app" / "convex"


@pytest.fixture
def app_dir() -> Path:
    return APP
