"""The deployment and subscription manager the session tests drive sessions against."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pyconvex.sync import SubscriptionManager, format_function_error
from pyconvex.testing import ConvexTest

LIVEAPP = Path(__file__).resolve().parents[1] / "fixtures" / "liveapp" / "convex"


@pytest.fixture
async def live() -> AsyncIterator[tuple[ConvexTest, SubscriptionManager]]:
    async with ConvexTest(LIVEAPP) as t:
        manager = SubscriptionManager(t.deployment.db, t.deployment.runner, format_function_error)
        manager.start()
        try:
            yield t, manager
        finally:
            await manager.stop()
