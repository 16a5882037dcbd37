"""Property: under concurrent callers and random timing (the virtual clock), a limit
never admits more than its tokens in any window, and (unsharded) admits every call
that fits, exactly as a sequential model of the bucket decides."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyconvex.ratelimit import MINUTE
from pyconvex.testing import ConvexTest
from tests.functions._secure import SECUREAPP

# The limits of the fixture (secureapp/_security.py).
BUCKET = {"rate": 10, "period": MINUTE, "capacity": 3}
SHARDED = {"rate": 60, "period": MINUTE, "capacity": 12}
WINDOW = {"rate": 4, "period": MINUTE, "capacity": 4}
EPS = 1e-6

steps = st.lists(
    st.tuples(st.integers(1, 8), st.integers(0, 30_000)), min_size=1, max_size=6)
SETTINGS = settings(max_examples=8, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


async def _run(name: str, plan: list[tuple[int, int]]) -> list[dict[str, Any]]:
    async with ConvexTest(SECUREAPP) as t:
        for callers, pause in plan:
            await asyncio.gather(*(
                t.mutation("limits:consume_and_record", {"name": name, "key": "k"})
                for _ in range(callers)))
            await t.advance_time(pause)
        decisions: list[dict[str, Any]] = await t.query("limits:decisions", {"name": name, "key": "k"})
    assert len(decisions) == sum(c for c, _ in plan)
    return sorted(decisions, key=lambda d: (d["now"], not d["ok"]))


def _never_over_admits(decisions: list[dict[str, Any]], cfg: dict[str, float]) -> None:
    times = [d["now"] for d in decisions if d["ok"]]
    per_ms = cfg["rate"] / cfg["period"]
    for i, start in enumerate(times):
        for j in range(i, len(times)):
            admitted = j - i + 1
            assert admitted <= cfg["capacity"] + (times[j] - start) * per_ms + EPS, (i, j, times)


def _bucket_model(decisions: list[dict[str, Any]], cfg: dict[str, float]) -> None:
    per_ms = cfg["rate"] / cfg["period"]
    value, ts = cfg["capacity"], decisions[0]["now"]
    for d in decisions:
        after = min(value + (d["now"] - ts) * per_ms, cfg["capacity"]) - 1
        if abs(after) > EPS:  # on the boundary, float rounding may go either way
            assert d["ok"] == (after >= 0), d
        if d["ok"]:
            value, ts = after, d["now"]


@given(plan=steps)
@SETTINGS
def test_token_bucket_matches_the_sequential_model(plan: list[tuple[int, int]]) -> None:
    decisions = asyncio.run(_run("bucket", plan))
    _never_over_admits(decisions, BUCKET)
    _bucket_model(decisions, BUCKET)


@given(plan=steps)
@SETTINGS
def test_fixed_window_admits_at_most_its_rate_per_window(plan: list[tuple[int, int]]) -> None:
    decisions = asyncio.run(_run("window", plan))
    per_window: dict[int, list[bool]] = {}
    for d in decisions:
        per_window.setdefault(int(d["now"] // WINDOW["period"]), []).append(d["ok"])
    for oks in per_window.values():
        # every call of a window that fits is admitted, and no more
        assert oks == [True] * min(len(oks), 4) + [False] * max(0, len(oks) - 4), per_window


@given(plan=steps)
@SETTINGS
def test_sharded_limit_never_over_admits(plan: list[tuple[int, int]]) -> None:
    decisions = asyncio.run(_run("sharded", plan))
    _never_over_admits(decisions, SHARDED)
    assert decisions[0]["ok"]  # the first call always finds a full shard


@pytest.mark.one_backend
def test_the_checker_catches_an_over_admission() -> None:
    """The invariant above can fail: four calls at once admitted against capacity 3."""
    with pytest.raises(AssertionError):
        _never_over_admits([{"now": 1000.0, "ok": True}] * 4, BUCKET)
    with pytest.raises(AssertionError):
        _bucket_model([{"now": 1000.0, "ok": True}] * 3
                      + [{"now": 1000.0, "ok": False}, {"now": 1001.0, "ok": True}], BUCKET)
