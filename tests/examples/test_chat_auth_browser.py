"""The chat example with sign-in, in Chromium: @convex-dev/auth's React client on the
chat page. Two users sign up, post (their messages carry their user id), share a private
channel; one signs out, and a signed-out page sees nothing private."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from pyconvex.auth import generate_keys
from pyconvex.client import ConvexClient
from tests.auth.library.oidc import example_with_oidc, log_in_at_provider
from tests.conftest import free_port, start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
CHAT = ROOT / "examples" / "chat"
DIST = CHAT / "web" / "dist"


@pytest.fixture
def chat_url(tmp_path: Path) -> Iterator[str]:
    assert (DIST / "index.html").exists(), "build the page first: make web"
    port = free_port()
    env = {**generate_keys(), "SITE_URL": f"http://127.0.0.1:{port}"}
    proc, url = start_server(tmp_path / "chat.sqlite3", CHAT / "convex", port=port, env=env,
                             extra=["--web", str(DIST)])
    try:
        yield url
    finally:
        stop_server(proc)


def _sign_up(browser: Browser, url: str, email: str, name: str) -> Page:
    page = browser.new_context(viewport={"width": 1000, "height": 700}).new_page()
    page.goto(url)
    expect(page.get_by_test_id("channel-general")).to_be_visible(timeout=10_000)
    page.get_by_test_id("auth-toggle").click()
    page.get_by_test_id("auth-email").fill(email)
    page.get_by_test_id("auth-password").fill(f"{name}-password-1")
    page.get_by_test_id("auth-name").fill(name)
    page.get_by_test_id("auth-submit").click()
    expect(page.get_by_test_id("signed-in-as")).to_have_text(f"signed in as {name}", timeout=10_000)
    return page


def _token(page: Page) -> str:
    token: str = page.evaluate(
        "Object.entries(localStorage).find(([k]) => k.startsWith('__convexAuthJWT'))[1]")
    return token


def _user_id(token: str) -> str:
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]).split("|")[0]


def _post(page: Page, text: str) -> None:
    page.get_by_test_id("message-input").fill(text)
    page.get_by_test_id("send").click()


def test_two_users_sign_in_post_share_a_private_channel_and_sign_out(browser: Browser, chat_url: str) -> None:
    ann = _sign_up(browser, chat_url, "ann@example.test", "Ann")
    bob = _sign_up(browser, chat_url, "bob@example.test", "Bob")
    _post(ann, "hello from ann")
    expect(bob.get_by_test_id("message").filter(has_text="hello from ann")).to_contain_text("Ann", timeout=5_000)
    _post(bob, "hi ann")
    expect(ann.get_by_test_id("message").filter(has_text="hi ann")).to_contain_text("Bob", timeout=5_000)

    # Messages carry their author's user id.
    ann_id, bob_id = _user_id(_token(ann)), _user_id(_token(bob))
    docs = httpx.get(f"{chat_url}/api/pyconvex/data", params={"table": "messages"},
                     headers={"Authorization": "Convex test-admin-key"}).json()["documents"]
    by_body = {d["body"]: d for d in docs}
    assert by_body["hello from ann"]["userId"] == ann_id and by_body["hi ann"]["userId"] == bob_id

    # Ann opens a private channel with Bob (through the Python client, with her token).
    with ConvexClient(chat_url) as client:
        client.set_auth(_token(ann))
        client.mutation("channels:create_private", {"name": "secret", "members": [bob_id]})
    for page in (ann, bob):
        expect(page.get_by_test_id("channel-secret")).to_be_visible(timeout=5_000)
    ann.get_by_test_id("channel-secret").click()
    _post(ann, "our secret")
    bob.get_by_test_id("channel-secret").click()
    expect(bob.get_by_test_id("message").filter(has_text="our secret")).to_be_visible(timeout=5_000)

    guest = browser.new_context().new_page()
    guest.goto(chat_url)
    expect(guest.get_by_test_id("channel-general")).to_be_visible(timeout=10_000)
    expect(guest.get_by_test_id("message").filter(has_text="hello from ann")).to_be_visible(timeout=5_000)
    expect(guest.get_by_test_id("channel-secret")).to_have_count(0)

    ann.get_by_test_id("sign-out").click()
    expect(ann.get_by_test_id("auth-submit")).to_be_visible(timeout=10_000)
    expect(ann.get_by_test_id("channel-secret")).to_have_count(0, timeout=10_000)
    expect(ann.get_by_test_id("message").filter(has_text="our secret")).to_have_count(0)
    expect(bob.get_by_test_id("channel-secret")).to_be_visible()


def test_sign_in_with_the_local_openid_provider(browser: Browser, tmp_path: Path) -> None:
    """The chat's "OpenID" button: the local OpenID Provider (npm oidc-provider) as a dev
    set-up would run it; the signed-in user's messages carry their user id."""
    with example_with_oidc(tmp_path, CHAT / "convex", DIST) as served:
        page = browser.new_context().new_page()
        page.goto(served)
        expect(page.get_by_test_id("channel-general")).to_be_visible(timeout=10_000)
        page.get_by_test_id("auth-oidc").click()
        log_in_at_provider(page, "carol")  # the provider's own login and consent pages
        expect(page.get_by_test_id("signed-in-as")).to_have_text("signed in as CAROL", timeout=15_000)
        assert "code=" not in page.url
        _post(page, "hello from carol")
        expect(page.get_by_test_id("message").filter(has_text="hello from carol")).to_contain_text(
            "CAROL", timeout=5_000)
        docs = httpx.get(f"{served}/api/pyconvex/data", params={"table": "messages"},
                         headers={"Authorization": "Convex test-admin-key"}).json()["documents"]
        assert [d["userId"] for d in docs if d["body"] == "hello from carol"] == [_user_id(_token(page))]
        account = httpx.get(f"{served}/api/pyconvex/data", params={"table": "authAccounts"},
                            headers={"Authorization": "Convex test-admin-key"}).json()["documents"]
        assert [(a["provider"], a["providerAccountId"]) for a in account] == [("oidc", "carol")]
        page.get_by_test_id("sign-out").click()
        expect(page.get_by_test_id("auth-submit")).to_be_visible(timeout=10_000)
