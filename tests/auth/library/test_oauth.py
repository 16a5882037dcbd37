"""OIDC sign-in against a real OpenID Provider (npm ``oidc-provider``) running locally.

The test plays the browser with one cookie jar: ``auth:signIn`` gives the redirect, the
site's sign-in route sets its cookies and sends us to the provider, we log in and
consent on the provider's own pages, the provider returns to the callback, which sends
us to ``SITE_URL?code=...``; ``auth:signIn`` with that code and the verifier gives tokens.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from convex import ConvexClient

from ...conftest import free_port, start_server, stop_server
from .conftest import APP, keys
from .oidc import oidc_issuer

SITE_URL = "http://127.0.0.1:5173"


@pytest.fixture
def deployment(tmp_path: Path, mailbox) -> Iterator[tuple[str, str]]:
    site_port = free_port()
    site = f"http://127.0.0.1:{site_port}"
    with oidc_issuer(tmp_path, f"{site}/api/auth/callback/oidc-test") as issuer:
        env = {**keys(), "SITE_URL": SITE_URL, "CONVEX_SITE_URL": site, "TEST_OIDC_ISSUER": issuer}
        proc, url = start_server(tmp_path / "db.sqlite3", APP, env=env, extra=["--site-port", str(site_port)])
        try:
            yield url, site
        finally:
            stop_server(proc)


def _submit_form(browser: httpx.Client, page: httpx.Response, fields: dict[str, str]) -> httpx.Response:
    action = re.search(r'<form[^>]*action="([^"]+)"', page.text)
    assert action, page.text[:500]
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    return browser.post(urljoin(str(page.url), action.group(1)), data={**hidden, **fields})


def _follow_to(browser: httpx.Client, response: httpx.Response, prefix: str) -> httpx.Response:
    """Follow redirects by hand until one points at ``prefix`` (not fetched)."""
    while response.is_redirect:
        location = urljoin(str(response.url), response.headers["location"])
        if location.startswith(prefix):
            return response
        response = browser.get(location)
    return response


def _browser_sign_in(redirect: str, site: str, login: str) -> str:
    """Drive the provider's pages as a browser would; the URL the callback sent us to."""
    with httpx.Client(follow_redirects=False, timeout=30) as browser:
        response = _follow_to(browser, browser.get(redirect), site + "/api/auth/callback/")
        page = response  # the provider's login page
        response = _submit_form(browser, page, {"login": login, "password": "anything"})
        page = _follow_to(browser, response, site + "/api/auth/callback/")
        if not page.is_redirect:  # the consent page
            response = _follow_to(browser, _submit_form(browser, page, {}), site + "/api/auth/callback/")
        else:
            response = page
        callback = urljoin(str(response.url), response.headers["location"])
        back = browser.get(callback)
        assert back.status_code == 302, back.text
        return back.headers["location"]


def test_sign_in_with_a_real_openid_provider(deployment: tuple[str, str]) -> None:
    url, site = deployment
    client = ConvexClient(url)
    started = client.action("auth:signIn", {"provider": "oidc-test", "params": {"redirectTo": "/notes"}})
    assert started["redirect"].startswith(f"{site}/api/auth/signin/oidc-test?code=")
    landed = _browser_sign_in(started["redirect"], site, "alice")
    assert landed.startswith(f"{SITE_URL}/notes?code=")
    code = parse_qs(urlsplit(landed).query)["code"][0]

    # The code alone (without the verifier the client kept) signs nobody in.
    assert client.action("auth:signIn", {"params": {"code": code}}) == {"tokens": None}
    tokens = client.action("auth:signIn", {"params": {"code": code}, "verifier": started["verifier"]})["tokens"]
    client.set_auth(tokens["token"])
    me = client.query("notes:me")
    assert me["email"] == "alice@oidc.test" and me["name"] == "ALICE"
    # Single use.
    client.clear_auth()
    assert client.action("auth:signIn", {"params": {"code": code}, "verifier": started["verifier"]}) == {
        "tokens": None}

    # Signing in again with the same account finds the same user.
    again = client.action("auth:signIn", {"provider": "oidc-test"})
    code2 = parse_qs(urlsplit(_browser_sign_in(again["redirect"], site, "alice")).query)["code"][0]
    tokens2 = client.action("auth:signIn", {"params": {"code": code2}, "verifier": again["verifier"]})["tokens"]
    client.set_auth(tokens2["token"])
    assert client.query("notes:me")["userId"] == me["userId"]


def test_open_redirects_and_forged_state_are_refused(deployment: tuple[str, str]) -> None:
    url, site = deployment
    client = ConvexClient(url)
    started = client.action("auth:signIn", {"provider": "oidc-test"})
    verifier = started["verifier"]
    evil = httpx.get(f"{site}/api/auth/signin/oidc-test", params={"code": verifier,
                                                                  "redirectTo": "https://evil.example/x"})
    assert evil.status_code == 400 and "Invalid `redirectTo`" in evil.text
    with httpx.Client(follow_redirects=False) as browser:
        to_provider = browser.get(started["redirect"])
        assert to_provider.status_code == 302
        query = parse_qs(urlsplit(to_provider.headers["location"]).query)
        assert query["code_challenge_method"] == ["S256"] and query["state"] and query["nonce"]
        # A callback whose state is not this browser's: back to the site, without a code.
        forged = browser.get(f"{site}/api/auth/callback/oidc-test", params={"code": "x", "state": "forged"})
        assert forged.status_code == 302 and forged.headers["location"] == SITE_URL
    # None of it made a user, an account or a code.
    for table in ("users", "authAccounts", "authVerificationCodes", "authSessions"):
        docs = httpx.get(f"{url}/api/pyconvex/data", params={"table": table},
                         headers={"Authorization": "Convex test-admin-key"}).json()["documents"]
        assert docs == [], (table, docs)


def test_sign_in_with_a_plain_oauth2_provider(deployment: tuple[str, str]) -> None:
    """The GitHub shape: given endpoints, the client secret in the form, the user from the
    userinfo endpoint (here the same local provider, through its second client)."""
    url, site = deployment
    client = ConvexClient(url)
    started = client.action("auth:signIn", {"provider": "oauth-test"})
    with httpx.Client(follow_redirects=False) as browser:
        query = parse_qs(urlsplit(browser.get(started["redirect"]).headers["location"]).query)
    assert "nonce" not in query and query["code_challenge_method"] == ["S256"]
    landed = _browser_sign_in(started["redirect"], site, "dave")
    code = parse_qs(urlsplit(landed).query)["code"][0]
    tokens = client.action("auth:signIn", {"params": {"code": code}, "verifier": started["verifier"]})["tokens"]
    client.set_auth(tokens["token"])
    me = client.query("notes:me")
    assert me["email"] == "dave@oidc.test" and me["name"] == "OAuth DAVE"
