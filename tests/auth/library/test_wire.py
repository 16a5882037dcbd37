"""pyconvex.auth over the wire: ``pyconvex serve`` and the official PyPI ``convex`` client.

The deployment verifies its own tokens the way any provider's are verified: its
``auth_config.py`` names ``CONVEX_SITE_URL``, and the keys come from that site's
``/.well-known/openid-configuration`` and ``jwks.json``, served by ``auth.add_http_routes``.
"""

from __future__ import annotations

import json
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
    client.clear_auth()
    assert client.query("notes:mine") == []
    # auth:store is internal: no client can write the auth tables directly.
    with pytest.raises(Exception, match="Could not find public function"):
        client.mutation("auth:store", {"args": {"type": "signOut"}})
