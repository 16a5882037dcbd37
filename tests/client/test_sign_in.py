"""``pyconvex.client``'s sign_in/sign_out against pyconvex.auth: the client keeps the
session alive by refreshing its short-lived access token by itself."""

from __future__ import annotations

import time
from pathlib import Path

from pyconvex.client import ConvexClient

from ..auth.library.conftest import APP, keys
from ..conftest import start_server, stop_server


def test_sign_in_keeps_the_session_past_the_access_token_life(tmp_path: Path) -> None:
    # Access tokens live 3 s here; the server accepts one up to 5 s past its expiry.
    env = {**keys(), "SITE_URL": "http://127.0.0.1:5173", "TEST_JWT_MS": "3000"}
    proc, url = start_server(tmp_path / "db.sqlite3", APP, env=env)
    try:
        with ConvexClient(url) as client:
            result = client.sign_in("password", {"flow": "signUp", "email": "py@example.test",
                                                 "password": "python-client-1"})
            assert set(result) == {"tokens"}
            first = client.auth_tokens
            assert first is not None
            assert client.query("notes:me")["email"] == "py@example.test"
            deadline = time.monotonic() + 30
            # Wait past the first token's expiry plus the server's leeway (not a timing assert:
            # the check below is what a user sees, still signed in).
            while time.monotonic() < deadline and time.time() < _exp(first["token"]) + 6:
                time.sleep(0.5)
            tokens = client.auth_tokens
            assert tokens is not None and tokens["token"] != first["token"]
            assert tokens["refreshToken"] != first["refreshToken"]
            assert client.query("notes:me")["email"] == "py@example.test"
            client.sign_out()
            assert client.auth_tokens is None
            assert client.query("notes:me") is None
    finally:
        stop_server(proc)


def _exp(token: str) -> float:
    from pyconvex.client._auth import token_times

    return token_times(token)[1]
