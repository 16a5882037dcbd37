"""Auth through the server: official client set_auth, HTTP Bearer, WebSocket AuthError."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
import websockets
from convex import ConvexClient

from ..conftest import FIXTURES, start_server, stop_server
from .issuer import IssuerProcess


@pytest.fixture
def auth_server(tmp_path: Path):
    issuer = IssuerProcess(tmp_path / "issuer")
    proc, url = start_server(
        tmp_path / "db.sqlite3", FIXTURES / "authapp" / "convex", env={"TEST_OIDC_ISSUER": issuer.url}
    )
    try:
        yield issuer, url
    finally:
        stop_server(proc)
        issuer.close()


def test_official_client_with_a_token(auth_server):
    issuer, url = auth_server
    client = ConvexClient(url)
    assert client.query("me:whoami") is None
    client.set_auth(issuer.token())
    assert client.query("me:whoami") == {"subject": "user-1", "name": "Ann"}
    client.clear_auth()
    assert client.query("me:whoami") is None


def test_http_bearer(auth_server):
    issuer, url = auth_server
    body = {"path": "me:whoami", "args": {}}
    r = httpx.post(f"{url}/api/query", json=body, headers={"Authorization": f"Bearer {issuer.token()}"})
    assert r.json()["value"] == {"subject": "user-1", "name": "Ann"}
    r = httpx.post(f"{url}/api/query", json=body,
                   headers={"Authorization": f"Bearer {issuer.token(exp=int(time.time()) - 100)}"})
    assert r.status_code == 401 and r.json()["code"] == "InvalidAuthHeader" and "expired" in r.json()["message"]


async def test_websocket_auth_error_then_close(auth_server):
    issuer, url = auth_server
    ws = await websockets.connect(url.replace("http", "ws") + "/api/sync")
    await ws.send(json.dumps({"type": "Connect", "sessionId": str(uuid.uuid4()), "connectionCount": 0,
                              "lastCloseReason": "InitialConnect"}))
    await ws.send(json.dumps({"type": "Authenticate", "baseVersion": 0, "tokenType": "User",
                              "value": issuer.token(aud="wrong")}))
    msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert msg == {"type": "AuthError", "error": msg["error"], "baseVersion": 0, "authUpdateAttempted": True}
    assert "audience" in msg["error"]
    with pytest.raises(websockets.ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 5)
    # A good token bumps the identity version in the next Transition.
    ws = await websockets.connect(url.replace("http", "ws") + "/api/sync")
    await ws.send(json.dumps({"type": "Connect", "sessionId": str(uuid.uuid4()), "connectionCount": 0,
                              "lastCloseReason": "InitialConnect"}))
    await ws.send(json.dumps({"type": "Authenticate", "baseVersion": 0, "tokenType": "User",
                              "value": issuer.token()}))
    msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert msg["type"] == "Transition" and msg["endVersion"]["identity"] == 1
    await ws.close()


async def test_a_mutation_right_behind_authenticate_runs_as_the_new_identity(auth_server):
    """Token verification is asynchronous; a Mutation arriving meanwhile (possibly in the
    same read) must wait for it, not be taken ahead of it."""
    issuer, url = auth_server
    token = issuer.token()
    for attempt in range(10):
        ws = await websockets.connect(url.replace("http", "ws") + "/api/sync")
        await ws.send(json.dumps({"type": "Connect", "sessionId": str(uuid.uuid4()),
                                  "connectionCount": 0, "lastCloseReason": "InitialConnect"}))
        await ws.send(json.dumps({"type": "Mutation", "requestId": 0, "udfPath": "me:whoami_now",
                                  "args": [{}]}))
        await ws.send(json.dumps({"type": "Authenticate", "baseVersion": 0, "tokenType": "User",
                                  "value": token}))
        await ws.send(json.dumps({"type": "Mutation", "requestId": 1, "udfPath": "me:whoami_now",
                                  "args": [{}]}))
        results = {}
        while len(results) < 2:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if msg["type"] == "MutationResponse":
                results[msg["requestId"]] = msg["result"]
        assert results == {0: None, 1: "user-1"}, attempt
        await ws.close()
