"""An expired token stops working on an open WebSocket, as it does over HTTP: the server
sends AuthError (not caused by a token update) and closes the socket (the official npm
client then fetches a fresh token: tests/compat/test_npm_expiry.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets

from pyconvex.errors import AuthError
from pyconvex.sync.expiry import TokenExpired, check_not_expired, token_expiry
from tests.auth.issuer import IssuerProcess
from tests.conftest import FIXTURES, start_server, stop_server

pytestmark = pytest.mark.one_backend


@pytest.fixture
def auth_server(tmp_path: Path) -> Iterator[tuple[IssuerProcess, str]]:
    issuer = IssuerProcess(tmp_path / "issuer")
    proc, url = start_server(
        tmp_path / "db.sqlite3", FIXTURES / "authapp" / "convex",
        env={"TEST_OIDC_ISSUER": issuer.url},
    )
    try:
        yield issuer, url
    finally:
        stop_server(proc)
        issuer.close()


def _unsigned(claims: dict[str, object]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJub25lIn0.{body}.sig"


def test_expiry_is_exp_plus_the_verifiers_leeway():
    assert token_expiry(_unsigned({"exp": 1000})) == 1005.0
    assert token_expiry(_unsigned({"sub": "x"})) is None
    assert token_expiry("not a jwt") is None
    check_not_expired(None)
    check_not_expired(time.time() + 60)
    with pytest.raises(TokenExpired, match="TokenExpired") as info:
        check_not_expired(time.time() - 1)
    assert isinstance(info.value, AuthError)


async def test_an_expired_token_ends_the_socket_with_an_auth_error(auth_server):
    issuer, url = auth_server
    now = int(time.time())
    ws = await websockets.connect(url.replace("http", "ws") + "/api/sync")
    await ws.send(json.dumps({"type": "Connect", "sessionId": str(uuid.uuid4()),
                              "connectionCount": 0, "lastCloseReason": "InitialConnect"}))
    await ws.send(json.dumps({"type": "Authenticate", "baseVersion": 0, "tokenType": "User",
                              "value": issuer.token(iat=now, exp=now + 1)}))
    await ws.send(json.dumps({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1,
                              "modifications": [{"type": "Add", "queryId": 0,
                                                 "udfPath": "me:whoami", "args": [{}]}]}))
    seen: list[dict[str, object]] = []
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            seen.append(json.loads(await asyncio.wait_for(ws.recv(), 20)))
    expired_at = time.time()
    kinds = [m["type"] for m in seen]
    assert "Transition" in kinds and kinds[-1] == "AuthError"
    error = seen[-1]
    assert error["authUpdateAttempted"] is False and error["baseVersion"] == 0
    assert "TokenExpired" in str(error["error"])
    assert expired_at >= now + 1 + 5  # not before exp plus the leeway
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    updates = [m for m in seen if m["type"] == "Transition" and m["modifications"]]
    assert updates[0]["modifications"][0]["value"] == {"subject": "user-1", "name": "Ann"}
