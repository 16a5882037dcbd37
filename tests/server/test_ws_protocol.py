"""server/ws_protocol.py: the receive inbox and the writable flag that replace uvicorn's
asyncio.Queue and asyncio.Event keep their order and wake-ups, and the uvicorn internals
the protocol reads are still there."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
import uvicorn
import websockets
from uvicorn.server import ServerState

from pyconvex.server.ws_protocol import UVICORN_WS_IDLE_INTERNALS, Flag, Inbox, WebSocketProtocol
from tests.server.inprocess import live_server


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
