"""Bad client input is a client error in the protocol's shape: function arguments get the
value limits documents get (an error reply, the socket stays open), and absurdly deep
arguments or a clock that is no clock are refused as bad requests (400, or FatalError
and close 1008), never a server error (500, close 1011)."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
import websockets


def _deep(levels: int) -> str:
    return '{"x":' * levels + "1" + "}" * levels


def test_http_arguments_get_the_document_value_limits(server: str):
    for args, limit in (({"name": "a", "pad": list(range(10_000))}, "8192"),
                        ({"name": "a", "pad": {f"f{i}": 1 for i in range(2_000)}}, "1024")):
        r = httpx.post(f"{server}/api/mutation", json={"path": "channels:create", "args": args})
        assert r.status_code == 200 and r.json()["status"] == "error", r.text
        assert limit in r.json()["errorMessage"]
    raw = '{"path": "channels:create", "args": {"name": "a", "pad": ' + _deep(30) + "}}"
    r = httpx.post(f"{server}/api/mutation", content=raw, headers={"content-type": "application/json"})
    assert r.json()["status"] == "error" and "nested too deeply" in r.json()["errorMessage"]
    names = httpx.post(f"{server}/api/query", json={"path": "channels:list", "args": {}}).json()
    assert names["value"] == []  # none of them ran


def test_http_absurdly_deep_arguments_are_a_bad_request(server: str):
    for levels in (1000, 5000):
        raw = '{"path": "channels:list", "args": ' + _deep(levels) + "}"
        r = httpx.post(f"{server}/api/query", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 400, (levels, r.status_code, r.text[:200])
        assert r.json()["code"] == "BadJsonBody"


async def _connect(server: str, client_ts: object = 0):  # type: ignore[no-untyped-def]
    ws = await websockets.connect(server.replace("http://", "ws://") + "/api/sync", max_size=None)
    await ws.send(json.dumps({"type": "Connect", "sessionId": str(uuid.uuid4()),
                              "connectionCount": 0, "lastCloseReason": "InitialConnect",
                              "clientTs": client_ts}))
    return ws


async def _until(ws, kind: str) -> dict:  # type: ignore[no-untyped-def]
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if msg["type"] == kind:
            return msg


async def test_sync_arguments_over_the_limits_fail_the_request_not_the_socket(server: str):
    ws = await _connect(server)
    await ws.send(json.dumps({"type": "Mutation", "requestId": 0, "udfPath": "channels:create",
                              "args": [{"name": "a", "pad": list(range(10_000))}]}))
    reply = await _until(ws, "MutationResponse")
    assert reply["success"] is False and "8192" in reply["result"]
    await ws.send(json.dumps({"type": "Mutation", "requestId": 1, "udfPath": "channels:create",
                              "args": [{"name": "fine"}]}))
    assert (await _until(ws, "MutationResponse"))["success"] is True
    await ws.close()


@pytest.mark.parametrize("frame", [
    '{"type": "Action", "requestId": 0, "udfPath": "channels:list", "args": [' + _deep(1000) + "]}",
    '{"type": "Action", "requestId": 0, "udfPath": "channels:list", "args": [' + _deep(5000) + "]}",
])
async def test_sync_absurdly_deep_arguments_close_as_a_client_error(server: str, frame: str):
    ws = await _connect(server)
    await ws.send(frame)
    fatal = await _until(ws, "FatalError")
    assert "deep" in fatal["error"] or "recursion" in fatal["error"].lower() or "JSON" in fatal["error"]
    with pytest.raises(websockets.ConnectionClosed) as info:
        await asyncio.wait_for(ws.recv(), 5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008


@pytest.mark.parametrize("client_ts", [1e300, -5, 2**64])
async def test_an_extreme_client_clock_closes_as_a_client_error(server: str, client_ts: object):
    ws = await _connect(server, client_ts)
    await ws.send(json.dumps({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1,
                              "modifications": []}))
    fatal = await _until(ws, "FatalError")
    assert "clientTs" in fatal["error"]
    with pytest.raises(websockets.ConnectionClosed) as info:
        await asyncio.wait_for(ws.recv(), 5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008
