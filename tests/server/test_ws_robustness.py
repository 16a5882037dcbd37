"""Bad clients close only their own connection; everyone else keeps being served."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
import websockets

from pyconvex.protocol import decode_ts


def ws_url(server: str) -> str:
    return server.replace("http://", "ws://") + "/api/1.48.0/sync"


async def connect(server: str, session_id: str | None = None, connection_count: int = 0):
    ws = await websockets.connect(ws_url(server), max_size=None)
    await ws.send(json.dumps({
        "type": "Connect", "sessionId": session_id or str(uuid.uuid4()),
        "connectionCount": connection_count,
        "lastCloseReason": "InitialConnect", "clientTs": 0,
    }))
    return ws


async def recv_type(ws, kind: str, timeout: float = 5.0) -> dict:
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if msg["type"] == kind:
            return msg


async def healthy(server: str) -> None:
    """A fresh client can still subscribe and get a Transition."""
    ws = await connect(server)
    await ws.send(json.dumps({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
        {"type": "Add", "queryId": 0, "udfPath": "channels:list", "args": [{}]}]}))
    msg = await recv_type(ws, "Transition")
    assert msg["modifications"][0]["type"] == "QueryUpdated"
    await ws.close()


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not json at all", "not JSON"),
        (json.dumps({"type": "Teleport"}), "unknown message type"),
        (json.dumps({"type": "ModifyQuerySet", "baseVersion": 7, "newVersion": 8, "modifications": []}),
         "BaseVersionMismatch"),
        (json.dumps({"type": "Mutation", "requestId": -1, "udfPath": "x:y", "args": [{}]}), "out of range"),
        (b"\x00\x01binary", "binary frames"),
    ],
)
async def test_bad_frames_close_with_a_reason(server: str, frame, reason: str):
    ws = await connect(server)
    await ws.send(frame)
    fatal = await recv_type(ws, "FatalError")
    assert reason in fatal["error"]
    with pytest.raises(websockets.ConnectionClosed) as info:
        await asyncio.wait_for(ws.recv(), 5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008
    await healthy(server)


async def test_huge_message_is_refused_and_others_unaffected(server: str):
    ws = await connect(server)
    # The server refuses the frame (1009, message too big) possibly while it is still
    # being sent, so the close may surface on the send or on the next receive.
    with pytest.raises((websockets.ConnectionClosed, ConnectionResetError)):
        await ws.send(json.dumps({"type": "Mutation", "requestId": 0, "udfPath": "channels:create",
                                  "args": [{"name": "x" * (40 * 1024 * 1024)}]}))
        for _ in range(10):
            await asyncio.wait_for(ws.recv(), 10)
    await healthy(server)


async def test_client_vanishing_mid_mutation_commits_once_or_not_at_all(server: str):
    for i in range(5):
        ws = await connect(server)
        await ws.send(json.dumps({"type": "Mutation", "requestId": 0, "udfPath": "channels:create",
                                  "args": [{"name": f"vanish-{i}"}]}))
        ws.transport.abort()  # gone without a close frame
    await asyncio.sleep(0.5)
    names = httpx.post(f"{server}/api/query", json={"path": "channels:list", "args": {}}).json()["value"]
    for i in range(5):
        assert [c["name"] for c in names].count(f"vanish-{i}") <= 1
    await healthy(server)


async def test_replayed_mutation_runs_once(server: str):
    session = str(uuid.uuid4())
    ws = await connect(server, session)
    mutation = json.dumps({"type": "Mutation", "requestId": 0, "udfPath": "channels:create",
                           "args": [{"name": "once"}]})
    await ws.send(mutation)
    first = await recv_type(ws, "MutationResponse")
    transition = await recv_type(ws, "Transition")
    assert decode_ts(transition["endVersion"]["ts"]) >= decode_ts(first["ts"])
    await ws.close()
    # Reconnect with the same session id and resend, as the JS client does (its
    # connection count says it is a reconnection).
    ws = await connect(server, session, connection_count=1)
    await ws.send(mutation)
    again = await recv_type(ws, "MutationResponse")
    assert again["result"] == first["result"] and again["ts"] == first["ts"]
    await recv_type(ws, "Transition")
    await ws.close()
    names = httpx.post(f"{server}/api/query", json={"path": "channels:list", "args": {}}).json()["value"]
    assert [c["name"] for c in names].count("once") == 1


async def test_ping_and_first_transition_version(server: str):
    ws = await connect(server)
    await ws.send(json.dumps({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": []}))
    msg = await recv_type(ws, "Transition")
    assert msg["startVersion"] == {"querySet": 0, "identity": 0, "ts": "AAAAAAAAAAA="}
    assert msg["endVersion"]["querySet"] == 1
    assert isinstance(msg["serverTs"], int)
    await ws.close()


async def test_mutations_sent_back_to_back_run_once_each_in_order(server: str):
    """Mutations a session takes as they are parsed (past its receive loop) and those
    that queue behind them once it has enough in hand keep their order, each run once."""
    ws = await connect(server)
    await ws.send(json.dumps({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
        {"type": "Add", "queryId": 0, "udfPath": "channels:list", "args": [{}]}]}))
    await recv_type(ws, "Transition")
    n = 60  # more than a session takes ahead of its receive loop (16)
    for i in range(n):
        await ws.send(json.dumps({"type": "Mutation", "requestId": i, "udfPath": "channels:create",
                                  "args": [{"name": f"burst-{i:02d}"}]}))
    responses = []
    while len(responses) < n:
        msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if msg["type"] == "MutationResponse":
            responses.append(msg)
    assert [r["requestId"] for r in responses] == list(range(n))
    assert all(r["success"] for r in responses)
    stamps = [decode_ts(r["ts"]) for r in responses]
    assert stamps == sorted(stamps) and len(set(stamps)) == n
    await ws.close()
    names = httpx.post(f"{server}/api/query", json={"path": "channels:list", "args": {}}).json()["value"]
    burst = [c["name"] for c in names if c["name"].startswith("burst-")]
    assert sorted(burst) == [f"burst-{i:02d}" for i in range(n)]  # each exactly once
