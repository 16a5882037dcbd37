"""The chat example in a real browser: Debian's Chromium driven by Playwright, twice.

The page is the Vite bundle of examples/chat/web (official npm `convex` browser client),
served by `pyconvex serve --web`; a message typed in one window must appear in the
other within a second. A screenshot of both windows is kept in test-artifacts/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
CHAT = ROOT / "examples" / "chat"
DIST = CHAT / "web" / "dist"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def chat_url(tmp_path: Path) -> Iterator[str]:
    assert (DIST / "index.html").exists(), "build the page first: make web"
    proc, url = start_server(tmp_path / "chat.sqlite3", CHAT / "convex", extra=["--web", str(DIST)])
    try:
        yield url
    finally:
        stop_server(proc)


def _open(browser: Browser, url: str, name: str) -> Page:
    page = browser.new_page(viewport={"width": 900, "height": 600})
    page.goto(url)
    page.get_by_test_id("name").fill(name)
    page.get_by_test_id("name").dispatch_event("change")
    expect(page.get_by_test_id("channel-general")).to_be_visible(timeout=10_000)
    expect(page.get_by_test_id("status")).to_have_text("live", timeout=10_000)
    return page


def test_a_message_typed_in_one_window_appears_in_the_other(browser: Browser, chat_url: str) -> None:
    ann = _open(browser, chat_url, "ann")
    bob = _open(browser, chat_url, "bob")
    ann.get_by_test_id("message-input").fill("hello from ann")
    started = time.monotonic()
    ann.get_by_test_id("send").click()
    # the user's check: in bob's window within one second
    expect(bob.get_by_test_id("message").filter(has_text="hello from ann")).to_be_visible(timeout=1_000)
    elapsed = time.monotonic() - started
    expect(bob.get_by_test_id("message").first).to_contain_text("ann")
    # and back the other way, in another channel
    bob.get_by_test_id("channel-random").click()
    ann.get_by_test_id("channel-random").click()
    bob.get_by_test_id("message-input").fill("hi ann, bob here")
    bob.get_by_test_id("send").click()
    expect(ann.get_by_test_id("message").filter(has_text="hi ann, bob here")).to_be_visible(timeout=1_000)
    expect(ann.get_by_test_id("message").filter(has_text="hello from ann")).to_have_count(0)
    # a refused message shows the ConvexError's message and sends nothing
    ann.get_by_test_id("message-input").fill("   ")
    ann.get_by_test_id("send").click()
    expect(ann.get_by_test_id("error")).to_have_text("Type something first.")
    ARTIFACTS.mkdir(exist_ok=True)
    ann.screenshot(path=str(ARTIFACTS / "chat-ann.png"))
    bob.screenshot(path=str(ARTIFACTS / "chat-bob.png"))
    assert elapsed < 1.0


def test_pagination_loads_older_messages(browser: Browser, chat_url: str) -> None:
    page = _open(browser, chat_url, "pager")
    for i in range(35):
        page.get_by_test_id("message-input").fill(f"message {i}")
        page.get_by_test_id("send").click()
        expect(page.get_by_test_id("message").filter(has_text=f"message {i}")).to_have_count(1)
    # A live page grows with new messages (it keeps its range): all 35 are shown here.
    expect(page.get_by_test_id("message")).to_have_count(35)
    # A window opened now starts with one page of 30 and loads the rest on demand.
    later = _open(browser, chat_url, "reader")
    expect(later.get_by_test_id("message")).to_have_count(30)
    later.get_by_test_id("older").click()
    expect(later.get_by_test_id("message")).to_have_count(35)
    expect(later.get_by_test_id("older")).to_be_hidden()
