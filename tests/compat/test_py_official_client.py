"""PyPI `convex` (the official Python client) against pyconvex serve."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from convex import ConvexClient, ConvexError
from convex.http_client import ConvexHttpClient


def test_query_mutation_error_data(server: str):
    client = ConvexClient(server)
    cid = client.mutation("channels:create", {"name": "general"})
    assert [c["name"] for c in client.query("channels:list")] == ["general"]
    with pytest.raises(ConvexError) as info:
        client.mutation("messages:send", {"channelId": cid, "text": "  "})
    assert info.value.data == {"code": "EmptyMessage"}
    assert client.action("actions:make_channel_and_count", {"name": "x"})["count"] == 2


def test_http_client(server: str):
    client = ConvexHttpClient(server)
    cid = client.mutation("channels:create", {"name": "h"})
    client.mutation("messages:send", {"channelId": cid, "text": "hi"})
    assert [m["text"] for m in client.query("messages:list", {"channelId": cid})] == ["hi"]
    with pytest.raises(ConvexError) as info:
        client.mutation("messages:send", {"channelId": cid, "text": " "})
    assert info.value.data == {"code": "EmptyMessage"}


def test_subscription_sees_another_clients_mutation(server: str):
    client = ConvexClient(server)
    cid = client.mutation("channels:create", {"name": "live"})
    sub = client.subscribe("messages:list", {"channelId": cid})
    assert next(sub) == []

    # Another client, in another process: the PyPI client holds the GIL while it waits
    # in next(), so a writer thread in this process could not run (docs/protocol.md §15).
    writer = subprocess.Popen([
        sys.executable, "-c",
        "import time, httpx, sys; time.sleep(0.3); httpx.post(sys.argv[1] + '/api/mutation', "
        "json={'path': 'messages:send', 'args': {'channelId': sys.argv[2], 'text': 'pushed'}})",
        server, cid,
    ])
    started = time.monotonic()
    update = next(sub)
    assert [m["text"] for m in update] == ["pushed"]
    assert time.monotonic() - started < 1.5
    sub.unsubscribe()
    writer.wait(30)
