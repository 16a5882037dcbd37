"""The rate limiter through mutations and queries (ConvexTest, virtual clock)."""

from __future__ import annotations

import asyncio

import pytest

from pyconvex import ConvexError
from pyconvex.errors import InvalidQueryError
from pyconvex.ratelimit import MINUTE, RateLimiter
from pyconvex.testing import ConvexTest
from tests.conftest import APP
from tests.functions._secure import SECUREAPP


async def consume(t: ConvexTest, name: str, **args: object) -> dict:
    return await t.mutation("limits:consume", {"name": name, **args})


async def test_token_bucket_admits_its_capacity_then_refuses_with_retry_after():
    async with ConvexTest(SECUREAPP) as t:
        assert [(await consume(t, "bucket", key="ann"))["ok"] for _ in range(3)] == [True] * 3
        refused = await consume(t, "bucket", key="ann")
        assert refused["ok"] is False
        assert 0 < refused["retryAfter"] <= 6000  # one token per 6 s
        assert (await consume(t, "bucket", key="bob"))["ok"]  # keys are independent
        await t.advance_time(6000)
        assert (await consume(t, "bucket", key="ann"))["ok"]
        assert not (await consume(t, "bucket", key="ann"))["ok"]
        await t.advance_time(60_000)  # refills to capacity, not beyond
        assert [(await consume(t, "bucket", key="ann"))["ok"] for _ in range(4)] == [True] * 3 + [False]


async def test_refusal_with_throws_is_a_convex_error_clients_read():
    async with ConvexTest(SECUREAPP) as t:
        await consume(t, "bucket", count=3)
        with pytest.raises(ConvexError) as info:
            await consume(t, "bucket", throws=True)
        data = info.value.data
        assert data["kind"] == "RateLimited" and data["name"] == "bucket"
        assert 0 < data["retryAfter"] <= 6000


async def test_a_failed_or_refused_mutation_consumes_nothing():
    async with ConvexTest(SECUREAPP) as t:
        for _ in range(5):
            with pytest.raises(ConvexError):
                await t.mutation("limits:consume_then_fail", {"name": "bucket", "key": "k"})
        assert [(await consume(t, "bucket", key="k"))["ok"] for _ in range(4)] == [True] * 3 + [False]
        value = await t.query("limits:value", {"name": "bucket", "key": "k"})
        assert -0.01 < value["value"] < 0.5  # refusals took nothing either


async def test_check_does_not_consume_and_limit_needs_a_mutation():
    async with ConvexTest(SECUREAPP) as t:
        for _ in range(5):
            assert (await t.query("limits:check", {"name": "bucket"}))["ok"]
        with pytest.raises(ValueError, match="count 4 exceeds the capacity 3"):
            await t.query("limits:check", {"name": "bucket", "count": 4})  # could never pass
        await consume(t, "bucket", count=3)
        check = await t.query("limits:check", {"name": "bucket"})
        assert check["ok"] is False and check["retryAfter"] > 0
        with pytest.raises(InvalidQueryError) as info:
            await t.query("limits:limit_in_query", {"name": "bucket"})
        assert info.value.short_msg == "RateLimitNeedsMutation"
        assert (await t.action("limits:from_action", {}))["ok"]


async def test_fixed_window_refills_at_the_window_start():
    async with ConvexTest(SECUREAPP) as t:
        results = [(await consume(t, "window", key="w"))["ok"] for _ in range(5)]
        assert results == [True] * 4 + [False]
        value = await t.query("limits:value", {"name": "window", "key": "w"})
        start = value["windowStart"]
        assert start % MINUTE == 0  # start=0: windows on the minute
        refused = await consume(t, "window", key="w")
        now = value["ts"]
        assert 0 < refused["retryAfter"] <= MINUTE and now == start
        await t.advance_time(refused["retryAfter"] + 1)
        assert [(await consume(t, "window", key="w"))["ok"] for _ in range(5)] == [True] * 4 + [False]


async def test_reserve_takes_tokens_ahead_up_to_max_reserved():
    async with ConvexTest(SECUREAPP) as t:
        assert (await consume(t, "reserved", count=6))["ok"]
        ahead = await consume(t, "reserved", count=3, reserve=True)
        assert ahead["ok"] is True and 0 < ahead["retryAfter"] <= 30_000  # 3 tokens: 30 s
        more = await consume(t, "reserved", count=3, reserve=True)
        assert more["ok"] is True and 30_000 < more["retryAfter"] <= 60_000
        over = await consume(t, "reserved", count=1, reserve=True)
        assert over["ok"] is False  # past max_reserved (6)
        with pytest.raises(ValueError, match="exceeds the capacity plus max_reserved"):
            await consume(t, "reserved", count=13, reserve=True)


async def test_reset_and_get_value():
    async with ConvexTest(SECUREAPP) as t:
        await consume(t, "bucket", key="r", count=3)
        assert not (await consume(t, "bucket", key="r"))["ok"]
        await t.mutation("limits:reset", {"name": "bucket", "key": "r"})
        assert (await t.query("limits:value", {"name": "bucket", "key": "r"}))["value"] == 3
        assert (await consume(t, "bucket", key="r"))["ok"]


async def test_sharded_limit_spreads_state_and_admits_its_capacity():
    async with ConvexTest(SECUREAPP) as t:
        admitted = sum([(await consume(t, "sharded"))["ok"] for _ in range(20)])
        assert 8 <= admitted <= 12  # never more than the capacity; shards may strand a few
        raw = await t.run(lambda ctx: ctx.db.query("rateLimits").collect())
        assert len({d["shard"] for d in raw}) > 1


async def test_concurrent_callers_never_exceed_the_limit():
    async with ConvexTest(SECUREAPP) as t:
        results = await asyncio.gather(*(
            t.mutation("limits:consume_and_record", {"name": "bucket", "key": "hot"}) for _ in range(12)))
        assert sum(r["ok"] for r in results) == 3
        results = await asyncio.gather(*(
            t.mutation("limits:consume_and_record", {"name": "sharded", "key": "hot"}) for _ in range(30)))
        assert 1 <= sum(r["ok"] for r in results) <= 12


async def test_concurrent_callers_of_a_sharded_limit_take_different_shards():
    """Calls in flight together take the shards in turn, so as long as fewer are in
    flight than there are shards, none loses an optimistic race and runs again (chosen
    at random, four calls on four shards collided in 91% of tries)."""
    async with ConvexTest(SECUREAPP) as t:
        for _ in range(3):
            results = await asyncio.gather(*(
                t.mutation("limits:consume_and_record", {"name": "sharded", "key": "k"})
                for _ in range(4)))
            assert all(r["ok"] for r in results)
        assert t.deployment.runner.occ_retries == 0
        raw = await t.run(lambda ctx: ctx.db.query("rateLimits").collect())
        assert sorted(d["shard"] for d in raw) == [0, 1, 2, 3]
        assert all(d["value"] < 1 for d in raw)  # 12 tokens, 3 per shard: each gave its 3


async def test_missing_table_is_named():
    limiter = RateLimiter({"x": {"kind": "token bucket", "rate": 1, "period": 1000}})
    async with ConvexTest(APP) as t:
        with pytest.raises(InvalidQueryError) as info:
            await t.run(lambda ctx: limiter.limit(ctx, "x"))
        assert info.value.short_msg == "RateLimitTableMissing"
        assert "**rate_limit_tables" in str(info.value)


@pytest.mark.one_backend
def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="'a': kind must be"):
        RateLimiter({"a": {"kind": "leaky", "rate": 1, "period": 1}})
    with pytest.raises(ValueError, match="'a': rate must be positive"):
        RateLimiter({"a": {"kind": "token bucket", "rate": 0, "period": 1}})
    with pytest.raises(ValueError, match="'a': period is required"):
        RateLimiter({"a": {"kind": "token bucket", "rate": 1}})
    with pytest.raises(ValueError, match=r"unknown key.*maxReserved"):
        RateLimiter({"a": {"kind": "token bucket", "rate": 1, "period": 1, "maxReserved": 1}})
    with pytest.raises(ValueError, match="start applies to a fixed window"):
        RateLimiter({"a": {"kind": "token bucket", "rate": 1, "period": 1, "start": 0}})
    with pytest.raises(ValueError, match="shards must be a positive int"):
        RateLimiter({"a": {"kind": "token bucket", "rate": 1, "period": 1, "shards": 0}})
