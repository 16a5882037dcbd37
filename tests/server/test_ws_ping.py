"""The server pings a sync connection that has been sent nothing for ``PING_AFTER_S``
(one pinger task for all connections), and not one it keeps sending to."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
import websockets

from pyconvex.server import ws as ws_module
from tests.server.inprocess import live_server


async def _connect(url: str) -> websockets.ClientConnection:
    conn = await websockets.connect(url.replace("http://", "ws://") + "/api/1.48.0/sync")
    await conn.send(json.dumps({"type": "Connect", "sessionId": str(uuid.uuid4()),
                                "connectionCount": 0, "lastCloseReason": "InitialConnect"}))
    return conn


@pytest.mark.one_backend
async def test_idle_connections_are_pinged_and_the_pinger_forgets_closed_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ws_module, "PING_AFTER_S", 0.3)
    with live_server(tmp_path / "db.sqlite3") as served:
        idle = [await _connect(served.url) for _ in range(3)]
        for conn in idle:
            assert json.loads(await asyncio.wait_for(conn.recv(), 10)) == {"type": "Ping"}
        assert sum(len(p.sessions) for p in ws_module._PINGERS.values()) == 3
        for conn in idle:
            await conn.close()
        for _ in range(100):
            if not sum(len(p.sessions) for p in ws_module._PINGERS.values()):
                break
            await asyncio.sleep(0.05)
        assert sum(len(p.sessions) for p in ws_module._PINGERS.values()) == 0
