"""Custom functions, row-level security and the rate limiter over the wire, with the
official clients (PyPI `convex` and npm `convex`) against `pyconvex serve`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from convex import ConvexClient, ConvexError
from convex.http_client import ConvexHttpClient

from tests.conftest import FIXTURES, start_server, stop_server

SECUREAPP = FIXTURES / "secureapp" / "convex"
SCRIPT = Path(__file__).parent / "npm" / "secure.mjs"


@pytest.fixture
def secure_server(tmp_path: Path) -> Iterator[str]:
    proc, url = start_server(tmp_path / "db.sqlite3", functions=SECUREAPP)
    try:
        yield url
    finally:
        stop_server(proc)


def test_custom_functions_with_the_pypi_client(secure_server: str):
    client = ConvexClient(secure_server)
    client.mutation("custom:setup", {"subject": "ann", "name": "Ann", "token": "tok"})
    assert client.query("custom:greet", {"sessionId": "tok", "suffix": "!"}) == "hello Ann!"
    assert client.mutation("custom:post", {"sessionId": "tok", "text": "x"}) == {
        "user": "Ann", "text": "x", "greeting": "hello"}
    with pytest.raises(ConvexError) as info:
        client.query("custom:greet", {"sessionId": "nope", "suffix": "!"})
    assert info.value.data == {"code": "BadSession"}
    assert client.action("custom:greet_from_action", {"sessionId": "tok", "suffix": "?"}) == (
        "act:hello Ann?")
    oks = [client.mutation("limits:consume", {"name": "bucket", "key": "py"})["ok"] for _ in range(4)]
    assert oks == [True, True, True, False]


@pytest.mark.parametrize("over", ["http", "websocket"])
def test_a_rate_limit_refusal_reaches_the_pypi_client_as_convex_error(secure_server: str, over: str):
    client = ConvexHttpClient(secure_server) if over == "http" else ConvexClient(secure_server)
    client.mutation("limits:consume", {"name": "bucket", "key": over, "count": 3})
    with pytest.raises(ConvexError) as info:
        client.mutation("limits:consume", {"name": "bucket", "key": over, "throws": True})
    data = info.value.data
    assert data["kind"] == "RateLimited" and data["name"] == "bucket" and data["retryAfter"] > 0


def test_a_live_query_under_rls_reruns_when_the_rule_s_document_changes(secure_server: str):
    client = ConvexClient(secure_server)
    cid = client.mutation("chat:make_channel", {"name": "p", "public": False, "members": []})
    client.mutation("chat:raw_insert", {"channelId": cid, "author": "x", "body": "hidden", "n": 1})
    sub = client.subscribe("chat:by_channel", {"channelId": cid})
    assert next(sub) == []
    # Another process opens the channel: only the rule's read (the channel) changed.
    writer = subprocess.Popen([
        sys.executable, "-c",
        "import time, httpx, sys; time.sleep(0.3); httpx.post(sys.argv[1] + '/api/mutation', "
        "json={'path': 'chat:set_public', 'args': {'channelId': sys.argv[2], 'public': True}})",
        secure_server, cid,
    ])
    assert [m["body"] for m in next(sub)] == ["hidden"]
    sub.unsubscribe()
    writer.wait(30)


def test_the_npm_client(secure_server: str, node_modules: Path):
    proc = subprocess.run(
        ["node", str(SCRIPT), secure_server], capture_output=True, text=True, timeout=120,
        cwd=node_modules.parent,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no result from node: {proc.stdout}\n{proc.stderr}"
    out = json.loads(lines[-1])
    assert "error" not in out, out["error"]
    assert out["greet"] == "hello Ann!" and out["wsGreet"] == "hello Ann?"
    assert out["post"] == {"user": "Ann", "text": "x", "greeting": "hello"}
    assert out["badSession"] == {"code": "BadSession"}
    assert out["limited"] == [True, True, True, False]
    assert out["rateLimitError"]["kind"] == "RateLimited" and out["rateLimitError"]["retryAfter"] > 0
    assert out["before"] == [] and out["after"] == ["hidden"]
