"""The async and blocking clients over a real WebSocket, against a scripted server.

NOTE: ``scripted_server.ScriptedServer`` is a test double for the wire. It is here to
drive edge cases the real server will not produce on demand (dropped sockets mid-mutation,
FatalError, bad Transitions, silence); ``test_client_e2e.py`` covers the normal paths
against the real ``pyconvex serve``. Replace a case here with the real server as soon as
it can be provoked there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyconvex.client import (
    AsyncConvexClient,
    ConvexClient,
    ConvexConnectionError,
    ConvexError,
    ConvexExecutionError,
)
from pyconvex.client._async import sync_url
from pyconvex.client._state import Backoff
from tests.client.scripted_server import ScriptedServer, server_in_thread


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    s = ScriptedServer()
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def client(server: ScriptedServer) -> AsyncIterator[AsyncConvexClient]:
    c = AsyncConvexClient(server.url, backoff=Backoff(initial=0.01, maximum=0.05))
    yield c
    await c.aclose()


async def eventually(predicate: Any, timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def test_sync_url_is_the_rust_clients():
    assert sync_url("http://127.0.0.1:3210") == "ws://127.0.0.1:3210/api/sync"
    assert sync_url("https://happy-otter-123.convex.cloud/") == "wss://happy-otter-123.convex.cloud/api/sync"
    assert sync_url("ws://h:1/some/prefix") == "ws://h:1/api/sync"
    with pytest.raises(ValueError, match="deployment URL"):
        sync_url("ftp://h")
    with pytest.raises(ValueError):
        AsyncConvexClient("127.0.0.1:3210")


async def test_query_mutation_and_read_your_writes(server: ScriptedServer, client: AsyncConvexClient):
    assert await client.query("counter:get") == 0.0
    sub = client.subscribe("counter:get", {})
    assert await anext(sub) == 0.0
    server.transition_delay = 0.2  # the covering Transition comes well after the response
    assert await client.mutation("counter:increment", {"by": 2.0}) == 2.0
    returned_at = asyncio.get_running_loop().time()
    assert returned_at >= server.transition_sent_at[-1]
    assert await asyncio.wait_for(anext(sub), 0.05) == 2.0  # already there: no waiting
    sub.unsubscribe()
    with pytest.raises(StopAsyncIteration):
        await anext(sub)
    assert server.of_type("Connect")[0]["sessionId"] == client.session_id
    # The first query was added before the socket opened, so it rode in the 0 -> 1 set.
    await eventually(lambda: len(server.of_type("ModifyQuerySet")) == 4)
    sets = server.of_type("ModifyQuerySet")
    assert [(m["baseVersion"], m["newVersion"]) for m in sets] == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert [[mod["type"] for mod in m["modifications"]] for m in sets] == [["Add"], ["Remove"], ["Add"], ["Remove"]]


async def test_function_errors_mirror_convex_py(client: AsyncConvexClient):
    with pytest.raises(ConvexError) as info:
        await client.mutation("counter:reject", {})
    assert info.value.data == {"max": 10.0} and str(info.value) == "too big"
    with pytest.raises(ConvexExecutionError, match="Server Error"):
        await client.mutation("counter:nope")
    with pytest.raises(ConvexError) as query_info:
        await client.query("counter:fail")
    assert query_info.value.data == {"why": "asked to"}
    with pytest.raises(ConvexExecutionError, match="Could not find"):
        await client.query("counter:missing")


async def test_subscription_raises_then_continues(server: ScriptedServer, client: AsyncConvexClient):
    class Ref:
        path = "counter:fail"

    async with client.subscribe(Ref()) as sub:
        with pytest.raises(ConvexError):
            await anext(sub)


async def test_action_round_trips_convex_values(client: AsyncConvexClient):
    args = {"i": 2**40, "f": 1.5, "b": b"\x00\xff", "nested": [None, True, {"s": "x"}]}
    result = await client.action("echo:action", args)
    assert result == args and type(result["i"]) is int


async def test_server_ping_is_tolerated(server: ScriptedServer, client: AsyncConvexClient):
    server.ping_first = True
    assert await client.query("counter:get") == 0.0


async def test_reconnect_resubscribes_with_the_same_session(server: ScriptedServer, client: AsyncConvexClient):
    sub = client.subscribe("counter:get")
    assert await anext(sub) == 0.0
    await server.drop_all()
    await eventually(lambda: server.connects == 2 and server.sockets)
    second = server.of_type("Connect")[1]
    assert second["sessionId"] == client.session_id and second["connectionCount"] == 1
    assert second["lastCloseReason"] == "closed with code 1012"
    assert second["maxObservedTimestamp"] == 1000
    replay = server.of_type("ModifyQuerySet")[-1]
    assert (replay["baseVersion"], replay["newVersion"]) == (0, 1)
    assert [m["udfPath"] for m in replay["modifications"]] == ["counter:get"]
    # The subscription goes on receiving updates on the new socket.
    await client.mutation("counter:increment")
    assert await anext(sub) == 1.0


async def test_unanswered_mutation_is_replayed_after_reconnect(server: ScriptedServer, client: AsyncConvexClient):
    server.drop_next_mutation = True
    assert await asyncio.wait_for(client.mutation("counter:increment", {"by": 5.0}), 5) == 5.0
    sent = server.of_type("Mutation")
    assert len(sent) == 2 and sent[0]["requestId"] == sent[1]["requestId"]
    assert server.of_type("Connect")[1]["sessionId"] == server.of_type("Connect")[0]["sessionId"]


async def test_action_in_flight_fails_when_the_connection_drops(server: ScriptedServer, client: AsyncConvexClient):
    task = asyncio.create_task(client.action("slow:action"))
    await eventually(lambda: server.of_type("Action"))
    await server.drop_all()
    with pytest.raises(ConvexConnectionError, match="Connection lost while action was in flight"):
        await task
    await eventually(lambda: server.connects == 2)
    assert len(server.of_type("Action")) == 1  # not resent


async def test_auth_confirmation_and_rejection(server: ScriptedServer, client: AsyncConvexClient):
    changes: list[bool] = []
    client.set_auth("good", on_change=changes.append)
    assert await client.query("counter:get") == 0.0
    await eventually(lambda: changes == [True])
    assert server.of_type("Authenticate")[0] == {
        "type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": "good", "impersonating": None}
    client.set_auth("bad", on_change=changes.append)
    await eventually(lambda: changes == [True, False])
    await eventually(lambda: server.connects == 2 and server.sockets)
    assert await client.query("counter:get") == 0.0
    assert len(server.of_type("Authenticate")) == 2  # the rejected token is not sent again
    client.set_admin_auth("admin-key", {"subject": "u1"})
    client.clear_auth()
    await eventually(lambda: len(server.of_type("Authenticate")) == 4)
    assert [m["tokenType"] for m in server.of_type("Authenticate")[2:]] == ["Admin", "None"]


async def test_fatal_error_is_terminal(server: ScriptedServer, client: AsyncConvexClient):
    sub = client.subscribe("counter:get")
    assert await anext(sub) == 0.0
    pending = asyncio.create_task(client.action("slow:action"))
    await eventually(lambda: server.of_type("Action"))
    await server.send_all({"type": "FatalError", "error": "BaseVersionMismatch"})
    with pytest.raises(ConvexConnectionError, match="FatalError: BaseVersionMismatch"):
        await pending
    with pytest.raises(ConvexConnectionError, match="FatalError"):
        await anext(sub)
    with pytest.raises(ConvexConnectionError, match="FatalError"):
        await client.query("counter:get")
    await asyncio.sleep(0.1)
    assert server.connects == 1


async def test_bad_transition_resets_the_connection(server: ScriptedServer, client: AsyncConvexClient):
    assert await client.query("counter:get") == 0.0
    await server.send_all({"type": "Transition", "startVersion": {"querySet": 7, "identity": 0, "ts": 1},
                           "endVersion": {"querySet": 7, "identity": 0, "ts": 2}, "modifications": []})
    await eventually(lambda: server.connects == 2)
    assert server.of_type("Connect")[1]["lastCloseReason"].startswith("ProtocolError: StartVersionMismatch")
    assert await client.query("counter:get") == 0.0


async def test_silent_server_is_dropped(server: ScriptedServer):
    server.silent = True
    client = AsyncConvexClient(server.url, inactivity_timeout=0.2, backoff=Backoff(0.01, 0.02))
    try:
        client.subscribe("counter:get")
        await eventually(lambda: len(server.of_type("Connect")) >= 2)
        assert server.of_type("Connect")[1]["lastCloseReason"] == "InactiveServer"
    finally:
        await client.aclose()


async def test_calls_wait_for_the_server_and_fail_on_close(server: ScriptedServer):
    url = server.url
    await server.stop()
    client = AsyncConvexClient(url, backoff=Backoff(0.01, 0.02))
    query = asyncio.create_task(client.query("counter:get"))
    sub = client.subscribe("counter:get")
    await asyncio.sleep(0.1)
    assert not query.done()  # retrying the connection in the background
    await client.aclose()
    with pytest.raises(ConvexConnectionError, match="closed"):
        await query
    with pytest.raises(StopAsyncIteration):
        await anext(sub)
    with pytest.raises(ConvexConnectionError):
        await client.mutation("counter:increment")
    await client.aclose()  # idempotent


async def test_async_context_manager(server: ScriptedServer):
    async with AsyncConvexClient(server.url) as client:
        assert await client.mutation("counter:increment") == 1.0


def test_blocking_client():
    with server_in_thread() as server, ConvexClient(server.url) as client:
        assert client.url == server.url
        sub = client.subscribe("counter:get")
        assert next(sub) == 0.0
        assert client.mutation("counter:increment", {"by": 3.0}) == 3.0
        assert next(sub) == 3.0
        assert client.query("counter:get") == 3.0
        assert client.action("echo:action", {"x": 1}) == {"x": 1}
        with pytest.raises(ConvexError):
            client.mutation("counter:reject")
        changes: list[bool] = []
        client.set_auth("good", on_change=changes.append)
        client.query("counter:get")
        # The confirmation is delivered on the client's loop thread: wait for it.
        deadline = time.monotonic() + 5
        while not changes and time.monotonic() < deadline:
            time.sleep(0.01)
        client.clear_auth()
        client.set_admin_auth("k")
        with sub:
            pass
        assert list(sub) == []
        session = client.session_id
    assert server.of_type("Connect")[0]["sessionId"] == session
    assert changes == [True]
    with pytest.raises(ConvexConnectionError):
        client.query("counter:get")
    assert list(sub) == []
    client.close()  # idempotent
