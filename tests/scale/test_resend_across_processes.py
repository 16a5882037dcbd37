"""A mutation resent to another process sharing the PostgreSQL database is answered from
the first process's record, not run again (a client behind a load balancer reconnects
wherever it lands)."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
import websockets

from tests.conftest import start_server, stop_server


def _ws(url: str) -> str:
    return url.replace("http://", "ws://") + "/api/1.48.0/sync"


async def _send_mutation(
    url: str, session: str, request_id: int, name: str, connection: int = 0
) -> dict[str, object]:
    async with websockets.connect(_ws(url), max_size=None) as ws:
        await ws.send(json.dumps({
            "type": "Connect", "sessionId": session, "connectionCount": connection,
            "lastCloseReason": "InitialConnect", "clientTs": 0,
        }))
        await ws.send(json.dumps({"type": "Mutation", "requestId": request_id,
                                  "udfPath": "channels:create", "args": [{"name": name}]}))
        while True:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if msg["type"] == "MutationResponse":
                return dict(msg)


async def test_a_resend_reaching_another_process_is_answered_from_the_record(
    make_db_url, monkeypatch: pytest.MonkeyPatch
):  # type: ignore[no-untyped-def]
    from tests.pg import base_url

    monkeypatch.setenv("PYCONVEX_TEST_DATABASE_URL", base_url())
    url = make_db_url("shared")
    a, url_a = start_server(url)
    try:
        b, url_b = start_server(url)
        try:
            session = str(uuid.uuid4())
            first = await _send_mutation(url_a, session, 0, "once")
            again = await _send_mutation(url_b, session, 0, "once", connection=1)
            assert first["success"] and again["success"]
            assert again["result"] == first["result"] and again["ts"] == first["ts"]
            # Both processes at once, for a request neither has seen: one runs it.
            racing = await asyncio.gather(
                _send_mutation(url_a, session, 1, "raced", connection=2),
                _send_mutation(url_b, session, 1, "raced", connection=3),
            )
            assert racing[0]["result"] == racing[1]["result"]
            names = httpx.post(f"{url_b}/api/query", json={"path": "channels:list", "args": {}},
                               timeout=30).json()["value"]
            assert sorted(c["name"] for c in names) == ["once", "raced"]
        finally:
            stop_server(b)
    finally:
        stop_server(a)
