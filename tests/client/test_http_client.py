"""pyconvex.client.ConvexHttpClient against a real pyconvex serve."""

from __future__ import annotations

import pytest

from pyconvex import api
from pyconvex.client import ConvexError, ConvexExecutionError, ConvexHttpClient


def test_calls_errors_and_admin(server: str):
    with ConvexHttpClient(server) as client:
        cid = client.mutation(api.channels.create, {"name": "general"})
        client.mutation("messages:send", {"channelId": cid, "text": "hi"})
        assert [m["text"] for m in client.query("messages:list", {"channelId": cid})] == ["hi"]
        with pytest.raises(ConvexError) as info:
            client.mutation("messages:send", {"channelId": cid, "text": " "})
        assert info.value.data == {"code": "EmptyMessage"}
        with pytest.raises(ConvexExecutionError, match="Could not find public function"):
            client.query("messages:nope")
        with pytest.raises(ConvexExecutionError, match="Could not find public function"):
            client.mutation("messages:wipe")
        client.set_admin_auth("test-admin-key")
        assert client.mutation("messages:wipe") is None
        client.set_auth("not-a-jwt")
        with pytest.raises(ConvexExecutionError, match="401"):
            client.query("channels:list")
