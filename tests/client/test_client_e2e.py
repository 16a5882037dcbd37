"""Both clients against the real server: a ``pyconvex serve`` subprocess on the fixture app
(the ``server`` fixture of ``tests/conftest.py``)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pyconvex import api
from pyconvex.client import (
    AsyncConvexClient,
    AsyncSubscription,
    ConvexClient,
    ConvexError,
    ConvexExecutionError,
)


async def has_result_now(sub: AsyncSubscription) -> bool:
    """True when the subscription holds a result already (no network round trip needed)."""
    task = asyncio.create_task(anext(sub))
    await asyncio.sleep(0)
    if task.done():
        return True
    task.cancel()
    return False


async def test_async_client_against_the_real_server(server: str):
    async with AsyncConvexClient(server) as client:
        assert await client.query(api.channels.list) == []
        sub = client.subscribe("channels:list", {})
        assert await anext(sub) == []
        cid = await client.mutation(api.channels.create, {"name": "general"})
        assert isinstance(cid, str)
        # Read-your-writes: the Transition carrying the new list arrived before mutation() returned.
        assert await has_result_now(sub)
        assert [c["name"] for c in await client.query("channels:list")] == ["general"]
        assert isinstance((await client.query("channels:list"))[0]["_creationTime"], float)

        assert await client.mutation("counters:increment", {"name": "n"}) == 1  # int64 stays int
        assert await client.query("counters:get", {"name": "n"}) == 1

        with pytest.raises(ConvexError) as info:
            await client.mutation("messages:send", {"channelId": cid, "text": "  "})
        assert info.value.data == {"code": "EmptyMessage"}
        with pytest.raises(ConvexExecutionError, match="Could not find public function"):
            await client.query("channels:nope")
        with pytest.raises(ConvexExecutionError, match=r"args\.name"):
            await client.mutation("channels:create", {"name": 5.0})

        result = await client.action("actions:make_channel_and_count", {"name": "random"})
        assert result["count"] == 2.0 and isinstance(result["id"], str)
        sub.unsubscribe()


async def test_subscription_sees_writes_from_another_client(server: str):
    async with AsyncConvexClient(server) as watcher, AsyncConvexClient(server) as writer:
        sub = watcher.subscribe("counters:get", {"name": "shared"})
        assert await anext(sub) is None
        for expected in (1, 2, 3):
            await writer.mutation("counters:increment", {"name": "shared"})
            async with asyncio.timeout(5):
                while (value := await anext(sub)) != expected:
                    assert value < expected
        assert watcher.session_id != writer.session_id


def test_blocking_client_against_the_real_server(server: str):
    with ConvexClient(server) as client:
        sub = client.subscribe(api.counters.get, {"name": "c"})
        assert next(sub) is None
        seen: list[int] = []
        reader = threading.Thread(target=lambda: seen.append(next(sub)))
        reader.start()
        assert client.mutation(api.counters.increment, {"name": "c"}) == 1
        reader.join(5)
        assert seen == [1]
        assert client.query("counters:get", {"name": "c"}) == 1
        sub.unsubscribe()
