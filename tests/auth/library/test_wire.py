"""pyconvex.auth over the wire: ``pyconvex serve`` and the official PyPI ``convex`` client.

The deployment verifies its own tokens the way any provider's are verified: its
``auth_config.py`` names ``CONVEX_SITE_URL``, and the keys come from that site's
``/.well-known/openid-configuration`` and ``jwks.json``, served by ``auth.add_http_routes``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from convex import ConvexClient, ConvexError

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
        assert client.query("notes:me")["email"] == "cli@example.test"
        assert _cli(url, "revoke", session_id).returncode == 0
        assert client.query("notes:me") is None
        assert session_id not in _cli(url, "sessions").stdout
        assert client.action("auth:signIn", {"refreshToken": tokens["refreshToken"]}) == {"tokens": None}
    finally:
        stop_server(proc)
