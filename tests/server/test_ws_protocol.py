"""server/ws_protocol.py: the receive inbox and the writable flag that replace uvicorn's
asyncio.Queue and asyncio.Event keep their order and wake-ups, and the uvicorn internals
the protocol reads are still there."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import uvicorn
import websockets
from uvicorn.server import ServerState

from pyconvex.server.ws_protocol import UVICORN_WS_IDLE_INTERNALS, Flag, Inbox, WebSocketProtocol
from tests.server.inprocess import live_server, reversing_ws_app, uvicorn_in_loop


async def test_the_inbox_hands_messages_over_in_order_and_wakes_its_reader() -> None:
    inbox = Inbox()
    reader = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    assert not reader.done()
    inbox.put_nowait("first")
    inbox.put_nowait("second")
    assert await reader == "first"
    assert inbox.qsize() == 1 and not inbox.empty()
    assert await inbox.get() == "second"
    assert inbox.empty()


async def test_a_cancelled_reader_loses_no_message() -> None:
    inbox = Inbox()
    reader = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    inbox.put_nowait("kept")
    assert await asyncio.wait_for(inbox.get(), 5) == "kept"


async def test_the_flag_holds_writers_while_cleared_and_releases_them_all_when_set() -> None:
    flag = Flag()
    assert flag.is_set() and await flag.wait()
    flag.clear()
    writers = [asyncio.ensure_future(flag.wait()) for _ in range(3)]
    cancelled = asyncio.ensure_future(flag.wait())
    await asyncio.sleep(0)
    assert not any(w.done() for w in writers)
    cancelled.cancel()
    await asyncio.sleep(0)
    flag.set()
    assert await asyncio.gather(*writers) == [True, True, True]
    assert cancelled.cancelled()


async def test_the_protocol_still_finds_the_uvicorn_internals_it_uses() -> None:
    config = uvicorn.Config(lambda *a: None, ws_max_size=1 << 20)
    config.load()
    protocol = WebSocketProtocol(config, ServerState(), {}, asyncio.get_running_loop())
    source_names = {"transport", "request"}  # assigned when a connection is made
    missing = [n for n in UVICORN_WS_IDLE_INTERNALS
               if not hasattr(protocol, n) and n not in source_names]
    assert not missing, f"uvicorn's WebSocketsSansIOProtocol no longer has {missing}"
    assert isinstance(protocol.queue, Inbox) and isinstance(protocol.writable, Flag)


@pytest.mark.one_backend
async def test_a_sync_connection_is_served_in_order_through_the_inbox(tmp_path: Path) -> None:
    with live_server(tmp_path / "db.sqlite3") as served:
        url = served.url.replace("http://", "ws://") + "/api/1.48.0/sync"
        async with websockets.connect(url) as conn:
            await conn.send(json.dumps({"type": "Connect", "sessionId": str(uuid.uuid4()),
                                        "connectionCount": 0, "lastCloseReason": "InitialConnect"}))
            # Two query-set changes sent at once: each is answered, in order.
            for version in (0, 1):
                await conn.send(json.dumps({
                    "type": "ModifyQuerySet", "baseVersion": version, "newVersion": version + 1,
                    "modifications": []}))
            versions = []
            while len(versions) < 2:
                msg = json.loads(await asyncio.wait_for(conn.recv(), 10))
                if msg["type"] == "Transition":
                    versions.append(msg["endVersion"]["querySet"])
            assert versions == [1, 2]


@asynccontextmanager
async def _idle(ping_s: float) -> AsyncIterator[tuple[uvicorn.Server, int]]:
    """A uvicorn server of an app that echoes WebSocket text reversed, over this
    protocol, pinging every ``ping_s`` (pong deadline the same)."""
    async with uvicorn_in_loop(reversing_ws_app, ws=WebSocketProtocol, ws_ping_interval=ping_s,
                               ws_ping_timeout=ping_s) as served:
        yield served


async def test_a_peer_that_answers_pings_stays_connected_and_one_that_does_not_is_closed() -> None:
    async with _idle(ping_s=0.5) as (_, port):
        answering = await websockets.connect(f"ws://127.0.0.1:{port}")  # answers pings itself
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"Sec-WebSocket-Version: 13\r\n\r\n")
        assert b" 101 " in await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        # This peer reads but never answers: a ping comes, then (no pong) a close 1011.
        ping = await asyncio.wait_for(reader.readexactly(6), 10)
        assert ping[0] == 0x89 and ping[1] == 4  # FIN + ping, 4-byte payload
        close = await asyncio.wait_for(reader.read(64), 10)
        assert close[0] == 0x88 and int.from_bytes(close[2:4], "big") == 1011
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()
        # The answering peer is still served, well past a ping interval and a deadline.
        await asyncio.wait_for(await answering.ping(), 10)
        await answering.close()


async def test_a_connection_keeps_what_uvicorn_sets_in_a_key_sharing_instance_dict() -> None:
    """Every attribute uvicorn's own protocol has after ``__init__`` is found on this
    one (the server's settings on its class); the connection's own stay under the 30
    that CPython 3.11 shares keys for (past it each instance has a 1.6 KB dict)."""
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    config = uvicorn.Config(lambda *a: None, ws_max_size=1 << 20)
    config.load()
    loop = asyncio.get_running_loop()
    state = ServerState()
    theirs = WebSocketsSansIOProtocol(config, state, {}, loop)
    ours = WebSocketProtocol(config=config, server_state=state, app_state={}, _loop=loop)
    missing = [name for name in vars(theirs) if not hasattr(ours, name)]
    assert not missing, f"uvicorn's protocol now sets {missing}: server/ws_protocol.py must too"
    assert ours.config is config and ours.loop is loop and ours.connections is state.connections
    assert ours.ping_interval == theirs.ping_interval == 20.0
    # What handshake, receive and send add later: the request, response and scope, and
    # corked.py's take-text hook.
    assert len(vars(ours)) + 4 < 30
    other = WebSocketProtocol(config=config, server_state=ServerState(), app_state={}, _loop=loop)
    assert other.connections is not ours.connections  # another server's settings


@pytest.mark.one_backend
async def test_sync_sessions_are_counted_while_open_whichever_way_they_are_served(
    tmp_path: Path,
) -> None:
    """The server's protocol hands a sync connection straight to the sync endpoint
    (``DeploymentApp.websocket_endpoint``); it is counted as open (``/metrics``) all
    the same, and no longer once it closes."""
    import httpx

    def open_sessions(text: str) -> float:
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("pyconvex_websocket_sessions "))

    with live_server(tmp_path / "db.sqlite3", public_metrics=True) as served:
        url = served.url.replace("http://", "ws://") + "/api/1.48.0/sync"
        async with httpx.AsyncClient(base_url=served.url) as http:
            async with websockets.connect(url) as conn:
                await conn.send(json.dumps({
                    "type": "Connect", "sessionId": str(uuid.uuid4()),
                    "connectionCount": 0, "lastCloseReason": "InitialConnect"}))
                await conn.send(json.dumps({"type": "ModifyQuerySet", "baseVersion": 0,
                                            "newVersion": 1, "modifications": []}))
                assert json.loads(await asyncio.wait_for(conn.recv(), 10))["type"] == "Transition"
                assert open_sessions((await http.get("/metrics")).text) == 1
            for _ in range(200):
                if open_sessions((await http.get("/metrics")).text) == 0:
                    break
                await asyncio.sleep(0.05)
            assert open_sessions((await http.get("/metrics")).text) == 0


async def test_whole_and_fragmented_messages_arrive_intact() -> None:
    """The protocol empties each text frame's payload once handed over (websockets'
    parser would keep the last one): whole messages and fragmented ones still arrive
    whole, in order."""
    async with _idle(ping_s=20) as (_, port), websockets.connect(f"ws://127.0.0.1:{port}") as ws:
        await ws.send("hello")
        await ws.send(["frag", "ment", "ed"])  # one message in three frames
        await ws.send("é" * 3000)
        assert [await asyncio.wait_for(ws.recv(), 10) for _ in range(3)] == [
            "olleh", "detnemgarf", "é" * 3000]


async def test_after_a_message_only_the_frame_parser_is_kept() -> None:
    """websockets' handshake parser (which keeps the handshake request) is replaced by
    the frame parser alone once the connection is between frames; this fails, rather
    than the saving quietly going, if websockets' parser generators change shape."""
    from websockets.protocol import Protocol

    async with _idle(ping_s=20) as (server, port), websockets.connect(f"ws://127.0.0.1:{port}") as ws:
        await ws.send("abc")
        assert await asyncio.wait_for(ws.recv(), 10) == "cba"
        (protocol,) = server.server_state.connections
        assert isinstance(protocol, WebSocketProtocol)
        assert protocol.conn.parser.gi_code is Protocol.parse.__code__  # type: ignore[attr-defined]
        await ws.send(["de", "f"])
        assert await asyncio.wait_for(ws.recv(), 10) == "fed"
