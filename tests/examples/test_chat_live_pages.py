"""The chat example's live paginated messages (``usePaginatedQuery``) in Chromium.

Pages of two messages (``?pageSize=2``) in fresh channels, seeded over the HTTP API: the
three cases users saw break before pages were pinned by the query journal (an insert
after two loaded pages, three inserts into a fully loaded list, a delete inside the first
page), a first page growing past twice its size (the client splits it in two bounded
pages, ``endCursor`` on the wire), and a server restart in the middle (the client
re-subscribes every page with its journal, ``Add.journal`` on the wire). After each, the
list must read exactly the channel's messages, newest first, each once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, WebSocket, expect

from tests.conftest import free_port, start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
CHAT = ROOT / "examples" / "chat"
DIST = CHAT / "web" / "dist"
R = ["r4", "r3", "r2", "r1", "r0"]  # newest first


@dataclass
class Chat:
    db: Path
    port: int
    proc: Any = None
    url: str = ""

    def start(self) -> None:
        self.proc, self.url = start_server(self.db, CHAT / "convex", extra=["--web", str(DIST)], port=self.port)

    def restart(self) -> None:
        stop_server(self.proc)
        self.start()

    def mutation(self, path: str, args: dict[str, Any]) -> Any:
        reply = httpx.post(f"{self.url}/api/mutation", json={"path": path, "args": args}, timeout=10).json()
        assert reply["status"] == "success", reply
        return reply["value"]

    def channel(self, name: str, n: int) -> list[str]:
        cid = self.mutation("channels:create", {"name": name})
        return [self.mutation("messages:send", {"channelId": cid, "author": "t", "body": f"r{i}"})
                for i in range(n)]

    def send(self, name: str, body: str) -> None:
        cid = self.mutation("channels:create", {"name": name})  # idempotent: the channel's id
        self.mutation("messages:send", {"channelId": cid, "author": "t", "body": body})


@dataclass
class Frames:
    """What the page's client sent over its WebSocket (Add modifications)."""

    adds: list[dict[str, Any]] = field(default_factory=list)

    def watch(self, ws: WebSocket) -> None:
        def sent(payload: str | bytes) -> None:
            msg = json.loads(payload)
            if msg.get("type") == "ModifyQuerySet":
                self.adds += [m for m in msg["modifications"] if m["type"] == "Add"]
        ws.on("framesent", sent)

    def bounded(self) -> list[dict[str, Any]]:
        """Page subscriptions with an ``endCursor``: the halves of split pages."""
        return [a for a in self.adds
                if a["args"][0].get("paginationOpts", {}).get("endCursor") is not None]


@pytest.fixture
def chat(tmp_path: Path) -> Iterator[Chat]:
    assert (DIST / "index.html").exists(), "build the page first: make web"
    server = Chat(tmp_path / "chat.sqlite3", free_port())
    server.start()
    try:
        yield server
    finally:
        stop_server(server.proc)


def _bodies(page: Page) -> Any:
    return page.get_by_test_id("message").locator(".body")


def _open(browser: Browser, chat: Chat, frames: Frames) -> Page:
    page = browser.new_page(viewport={"width": 900, "height": 700})
    page.on("websocket", frames.watch)
    page.goto(f"{chat.url}/?pageSize=2")
    expect(page.get_by_test_id("status")).to_have_text("live", timeout=10_000)
    return page


def _two_pages(page: Page, channel: str) -> None:
    page.get_by_test_id(f"channel-{channel}").click()
    expect(_bodies(page)).to_have_text(R[:2])
    page.get_by_test_id("older").click()
    expect(_bodies(page)).to_have_text(R[:4])


def test_live_pages_in_the_browser(browser: Browser, chat: Chat) -> None:
    for name in ("insert", "full", "delete", "split", "reconnect"):
        chat.channel(name, 3 if name == "full" else 5)
    frames = Frames()
    page = _open(browser, chat, frames)

    # 1. Two pages loaded, one insert: r3 stays, and r0 is still one "load more" away.
    _two_pages(page, "insert")
    chat.send("insert", "NEW")
    expect(_bodies(page)).to_have_text(["NEW", *R[:4]])
    page.get_by_test_id("older").click()
    expect(_bodies(page)).to_have_text(["NEW", *R])
    expect(page.get_by_test_id("older")).to_be_hidden()

    # 2. A fully loaded list, three inserts: the oldest stays, "load more" stays off.
    page.get_by_test_id("channel-full").click()
    expect(_bodies(page)).to_have_text(["r2", "r1"])
    page.get_by_test_id("older").click()
    expect(_bodies(page)).to_have_text(["r2", "r1", "r0"])
    expect(page.get_by_test_id("older")).to_be_hidden()
    for body in ("N1", "N2", "N3"):
        chat.send("full", body)
    expect(_bodies(page)).to_have_text(["N3", "N2", "N1", "r2", "r1", "r0"])
    expect(page.get_by_test_id("older")).to_be_hidden()

    # 3. A delete inside the first page: nothing of the second page shows twice.
    _two_pages(page, "delete")
    page.get_by_test_id("message").filter(has_text="r3").get_by_test_id("remove").click()
    expect(_bodies(page)).to_have_text(["r4", "r2", "r1"])

    # 4. The first page grows past twice its size: the client splits it in two.
    _two_pages(page, "split")
    bounded_before = len(frames.bounded())
    for body in ("N1", "N2", "N3"):
        chat.send("split", body)
    expect(_bodies(page)).to_have_text(["N3", "N2", "N1", *R[:4]])
    for _ in range(200):  # the split pages' subscriptions reach the socket
        if len(frames.bounded()) >= bounded_before + 2:
            break
        page.wait_for_timeout(50)
    assert len(frames.bounded()) == bounded_before + 2, frames.adds
    expect(_bodies(page)).to_have_text(["N3", "N2", "N1", *R[:4]])

    # 5. A server restart in the middle: every page comes back with its journal.
    _two_pages(page, "reconnect")
    chat.send("reconnect", "NEW")
    expect(_bodies(page)).to_have_text(["NEW", *R[:4]])
    adds_before = len(frames.adds)
    chat.restart()
    def resent() -> list[dict[str, Any]]:
        return [a for a in frames.adds[adds_before:] if a["udfPath"].startswith("messages")]

    for _ in range(300):  # the client reconnects and re-subscribes its two pages
        if len(resent()) >= 2:
            break
        page.wait_for_timeout(50)
    assert len(resent()) == 2 and all(a.get("journal") for a in resent()), resent()
    expect(page.get_by_test_id("status")).to_have_text("live", timeout=15_000)
    expect(_bodies(page)).to_have_text(["NEW", *R[:4]])
    chat.send("reconnect", "AFTER")
    expect(_bodies(page)).to_have_text(["AFTER", "NEW", *R[:4]])
    page.get_by_test_id("older").click()
    expect(_bodies(page)).to_have_text(["AFTER", "NEW", *R])
