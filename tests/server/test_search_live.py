"""A live search query changes when a matching document is inserted."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from pyconvex.client import ConvexClient
from tests.server.inprocess import live_server

APP = Path(__file__).resolve().parents[1] / "fixtures" / "searchapp" / "convex"


def test_live_search_query_updates(tmp_path: Path) -> None:
    with live_server(tmp_path / "db.sqlite3", APP) as served:
        url = served.url
        client = ConvexClient(url)
        results: list[list[str]] = []
        got_two = threading.Event()

        def follow() -> None:
            for value in client.subscribe("messages:search", {"text": "hello"}):
                results.append(value)
                if len(value) == 1 and value[0] == "hello there":
                    got_two.set()
                    return

        threading.Thread(target=follow, daemon=True).start()
        httpx.post(f"{url}/api/mutation", json={"path": "messages:send",
                                               "args": {"body": "unrelated words", "channel": "a"}})
        httpx.post(f"{url}/api/mutation", json={"path": "messages:send",
                                               "args": {"body": "hello there", "channel": "a"}})
        assert got_two.wait(10), results
        assert results[0] == []
        client.close()
