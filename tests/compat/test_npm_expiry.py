"""The official npm ConvexClient with a token that expires on an open socket: the server's
AuthError makes it fetch a fresh token, and it carries on under it."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.auth.issuer import IssuerProcess
from tests.conftest import FIXTURES, start_server, stop_server

SCRIPT = Path(__file__).parent / "npm" / "expiry.mjs"


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


def test_the_npm_client_refreshes_and_carries_on(auth_server, node_modules: Path):
    issuer, url = auth_server
    now = int(time.time())
    # The client fetches a token, then (once the server accepts it) a forced fresh one;
    # both live 2 s, too short for it to refresh them ahead of time, so only the server's
    # AuthError at expiry makes it fetch the third.
    short = issuer.token(iat=now, exp=now + 2)
    fresh = issuer.token(iat=now, exp=now + 600)
    proc = subprocess.run(["node", str(SCRIPT), url, short, short, fresh], capture_output=True,
                          text=True, timeout=90, cwd=node_modules.parent)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, proc.stdout + proc.stderr
    out = json.loads(lines[-1])
    assert len(out["fetches"]) == 3, out
    refetch = out["fetches"][2]
    assert refetch["forceRefreshToken"] is True
    assert refetch["at"] >= 5000, out  # at exp + leeway, when the server said so
    assert out["updates"][0]["subject"] == "user-1"
    assert out["mutation"] == "user-1" and out["queryAfter"] == "user-1"
    assert False not in out["authChanges"]  # the client never reported being logged out
