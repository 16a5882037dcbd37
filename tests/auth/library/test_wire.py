"""pyconvex.auth over the wire: ``pyconvex serve`` and the official PyPI ``convex`` client.

The deployment verifies its own tokens the way any provider's are verified: its
``auth_config.py`` names ``CONVEX_SITE_URL``, and the keys come from that site's
``/.well-known/openid-configuration`` and ``jwks.json``, served by ``auth.add_http_routes``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from convex import ConvexClient, ConvexError

from pyconvex.auth import generate_keys
from pyconvex.auth.library.keys import sign_access_token

from ...conftest import start_server, stop_server
from .conftest import APP, keys


@pytest.fixture
def served(tmp_path: Path, mailbox) -> Iterator[str]:
    env = {**keys(), "SITE_URL": "http://127.0.0.1:5173"}
    proc, url = start_server(tmp_path / "db.sqlite3", APP, env=env)
    try:
        yield url
    finally:
        stop_server(proc)


def test_sign_up_sign_in_refresh_and_sign_out_with_the_official_client(served: str) -> None:
    discovery = httpx.get(f"{served}/http/.well-known/openid-configuration").json()
    site = discovery["issuer"]
    assert discovery["jwks_uri"] == f"{site}/.well-known/jwks.json"
    jwks = httpx.get(discovery["jwks_uri"]).json()
    assert jwks == json.loads(keys()["JWKS"])

    client = ConvexClient(served)
    tokens = client.action("auth:signIn", {"provider": "password", "params": {
        "flow": "signUp", "email": "wire@example.test", "password": "over-the-wire-1", "name": "Wire"}})["tokens"]
    assert client.query("notes:me") is None
    client.set_auth(tokens["token"])
    me = client.query("notes:me")
    assert me["email"] == "wire@example.test" and me["name"] == "Wire"
    client.mutation("notes:add", {"text": "from the wire"})
    assert client.query("notes:mine") == ["from the wire"]

    with pytest.raises(ConvexError) as refused:
        client.action("auth:signIn", {"provider": "password", "params": {
            "flow": "signIn", "email": "wire@example.test", "password": "not-the-password"}})
    assert refused.value.data == "Invalid credentials"

    fresh = client.action("auth:signIn", {"refreshToken": tokens["refreshToken"]})["tokens"]
    assert fresh["refreshToken"] != tokens["refreshToken"]
    client.set_auth(fresh["token"])
    assert client.query("notes:me")["userId"] == me["userId"]

    assert client.action("auth:signOut", {}) is None
    assert client.action("auth:signIn", {"refreshToken": fresh["refreshToken"]}) == {"tokens": None}
    # The access token has not expired, but its session has ended: it no longer counts.
    assert client.query("notes:me") is None
    client.clear_auth()
    assert client.query("notes:mine") == []
    # auth:store is internal: no client can write the auth tables directly.
    with pytest.raises(Exception, match="Could not find public function"):
        client.mutation("auth:store", {"args": {"type": "signOut"}})


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyconvex.cli.main", "auth", *args,
                           "--url", url, "--admin-key", "test-admin-key"],
                          capture_output=True, text=True, timeout=60)


def test_auth_init_then_sessions_listed_and_revoked_from_the_cli(tmp_path: Path) -> None:
    proc, url = start_server(tmp_path / "db.sqlite3", APP, env={"SITE_URL": "http://127.0.0.1:5173"})
    try:
        client = ConvexClient(url)
        params = {"flow": "signUp", "email": "cli@example.test", "password": "cli-password-1"}
        with pytest.raises(ConvexError, match="JWT_PRIVATE_KEY"):
            client.action("auth:signIn", {"provider": "password", "params": params})
        done = _cli(url, "init")
        assert done.returncode == 0, done.stderr
        assert "JWKS" in done.stdout and "JWT_PRIVATE_KEY" in done.stdout
        again = _cli(url, "init")
        assert again.returncode == 1 and "--force" in again.stderr + again.stdout
        tokens = client.action("auth:signIn", {"provider": "password", "params": params})["tokens"]
        session_id = tokens["refreshToken"].split("|")[1]
        listed = _cli(url, "sessions")
        assert listed.returncode == 0 and session_id in listed.stdout
        client.set_auth(tokens["token"])
        me = client.query("notes:me")
        assert me["email"] == "cli@example.test"
        other = ConvexClient(url).action("auth:signIn", {"provider": "anonymous", "params": {}})["tokens"]
        mine = _cli(url, "sessions", "--user", me["userId"])
        assert mine.returncode == 0 and mine.stdout.split()[0] == session_id, mine.stdout
        assert other["refreshToken"].split("|")[1] not in mine.stdout
        unknown = _cli(url, "revoke", other["refreshToken"].split("|")[1] + "x")
        assert unknown.returncode == 1 and "No session" in unknown.stderr + unknown.stdout
        assert _cli(url, "revoke", session_id).returncode == 0
        assert client.query("notes:me") is None
        assert session_id not in _cli(url, "sessions").stdout
        assert client.action("auth:signIn", {"refreshToken": tokens["refreshToken"]}) == {"tokens": None}
    finally:
        stop_server(proc)


def test_expired_and_forged_own_tokens_are_refused_over_the_wire(served: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokens the deployment's own key signed, but expired, and ones signed by another
    key: HTTP calls get 401, a WebSocket an AuthError."""
    client = ConvexClient(served)
    tokens = client.action("auth:signIn", {"provider": "anonymous", "params": {}})["tokens"]
    site = httpx.get(f"{served}/http/.well-known/openid-configuration").json()["issuer"]
    client.set_auth(tokens["token"])
    user_id, session_id = client.query("notes:me")["userId"], tokens["refreshToken"].split("|")[1]
    for name, value in {**keys(), "CONVEX_SITE_URL": site}.items():
        monkeypatch.setenv(name, value)
    hour = 3_600_000
    expired = sign_access_token(user_id, session_id, time.time() * 1000 - 2 * hour, hour)
    for name, value in generate_keys().items():
        monkeypatch.setenv(name, value)
    other_key = sign_access_token(user_id, session_id, time.time() * 1000, hour)
    body = {"path": "notes:me", "args": {}, "format": "json"}
    for token, why in ((expired, "expired"), (other_key, "")):
        refused = httpx.post(f"{served}/api/query", json=body, headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401 and why in refused.json()["message"], refused.text
    good = httpx.post(f"{served}/api/query", json=body, headers={"Authorization": f"Bearer {tokens['token']}"})
    assert good.json()["value"]["sessionId"] == session_id
    asyncio.run(_refused_over_websocket(served, expired))


async def _refused_over_websocket(url: str, token: str) -> None:
    async with websockets.connect(url.replace("http", "ws") + "/api/sync") as ws:
        await ws.send(json.dumps({"type": "Connect", "sessionId": str(uuid.uuid4()), "connectionCount": 0,
                                  "lastCloseReason": "InitialConnect"}))
        await ws.send(json.dumps({"type": "Authenticate", "baseVersion": 0, "tokenType": "User",
                                  "value": token}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert reply["type"] == "AuthError" and "expired" in reply["error"], reply
