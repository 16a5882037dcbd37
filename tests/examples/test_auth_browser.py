"""The auth example in Chromium: @convex-dev/auth's React client, unmodified, on pyconvex.auth.

The page (examples/auth/web, built by Vite) uses ConvexAuthProvider, useAuthActions,
useAuthToken and <Authenticated>/<Unauthenticated>. Two users sign up in two browser
contexts, write private notes, sign out, sign back in; a signed-out page sees nothing
private and a wrong password is refused with a readable error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from pyconvex.auth import generate_keys
from tests.auth.library.oidc import example_with_oidc, log_in_at_provider
from tests.conftest import start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "auth"
DIST = EXAMPLE / "web" / "dist"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def app_url(tmp_path: Path) -> Iterator[str]:
    assert (DIST / "index.html").exists(), "build the page first: make web"
    proc, url = start_server(tmp_path / "auth.sqlite3", EXAMPLE / "convex", extra=["--web", str(DIST)],
                             env=generate_keys())
    try:
        yield url
    finally:
        stop_server(proc)


def _sign_up(page: Page, email: str, password: str, name: str) -> None:
    page.get_by_test_id("toggle").click()
    page.get_by_test_id("email").fill(email)
    page.get_by_test_id("password").fill(password)
    page.get_by_test_id("name").fill(name)
    page.get_by_test_id("submit").click()


def _sign_in(page: Page, email: str, password: str) -> None:
    page.get_by_test_id("email").fill(email)
    page.get_by_test_id("password").fill(password)
    page.get_by_test_id("submit").click()


def _add_note(page: Page, text: str) -> None:
    page.get_by_test_id("note-input").fill(text)
    page.get_by_test_id("add").click()
    expect(page.get_by_test_id("note").filter(has_text=text)).to_be_visible(timeout=5_000)


def test_sign_up_sign_in_and_sign_out_with_the_react_client(browser: Browser, app_url: str) -> None:
    ann = browser.new_context().new_page()
    ann.goto(app_url)
    expect(ann.get_by_test_id("public-notes")).to_have_text("0 notes visible", timeout=10_000)
    _sign_up(ann, "ann@example.test", "ann-password-1", "Ann")
    expect(ann.get_by_test_id("whoami")).to_have_text("Signed in as Ann", timeout=10_000)
    expect(ann.get_by_test_id("has-token")).to_have_text("token: yes")
    _add_note(ann, "ann's secret")

    bob = browser.new_context().new_page()
    bob.goto(app_url)
    _sign_up(bob, "bob@example.test", "bob-password-1", "Bob")
    expect(bob.get_by_test_id("whoami")).to_have_text("Signed in as Bob", timeout=10_000)
    _add_note(bob, "bob's secret")
    expect(bob.get_by_test_id("note")).to_have_count(1)
    expect(ann.get_by_test_id("note")).to_have_count(1)

    # A reload keeps Ann signed in (tokens in localStorage, refreshed through auth:signIn).
    ann.reload()
    expect(ann.get_by_test_id("whoami")).to_have_text("Signed in as Ann", timeout=10_000)
    expect(ann.get_by_test_id("note")).to_have_text(["ann's secret"])

    ann.get_by_test_id("sign-out").click()
    expect(ann.get_by_test_id("sign-in-form")).to_be_visible(timeout=10_000)
    expect(ann.get_by_test_id("public-notes")).to_have_text("0 notes visible", timeout=10_000)
    assert ann.evaluate("Object.keys(localStorage).filter(k => k.startsWith('__convexAuth'))") == []

    _sign_in(ann, "ann@example.test", "wrong-password-1")
    expect(ann.get_by_test_id("error")).to_contain_text("Invalid credentials", timeout=10_000)
    expect(ann.get_by_test_id("sign-in-form")).to_be_visible()

    _sign_in(ann, "ann@example.test", "ann-password-1")
    expect(ann.get_by_test_id("whoami")).to_have_text("Signed in as Ann", timeout=10_000)
    expect(ann.get_by_test_id("note")).to_have_text(["ann's secret"])
    ARTIFACTS.mkdir(exist_ok=True)
    ann.screenshot(path=str(ARTIFACTS / "auth-example.png"))


@pytest.fixture
def oidc_app(tmp_path: Path) -> Iterator[str]:
    """The example with a local OpenID Provider (npm oidc-provider) configured."""
    with example_with_oidc(tmp_path, EXAMPLE / "convex", DIST) as url:
        yield url


def test_sign_in_with_openid_connect_through_the_react_client(browser: Browser, oidc_app: str) -> None:
    page = browser.new_context().new_page()
    page.goto(oidc_app)
    page.get_by_test_id("oidc").click()
    log_in_at_provider(page, "carol")  # oidc-provider's development pages
    # Back on the page with ?code=...; the React client finishes the sign-in.
    expect(page.get_by_test_id("whoami")).to_have_text("Signed in as CAROL", timeout=15_000)
    assert "code=" not in page.url
    _add_note(page, "carol's note")
    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("public-notes")).to_have_text("0 notes visible", timeout=10_000)
