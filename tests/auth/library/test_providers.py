"""GitHub and Google as configurations of OAuth / OIDC: their endpoints, credentials from
the environment and profile mapping (the flow itself runs against a real local provider
in test_oauth.py; github.com and accounts.google.com are not reachable from tests)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from pyconvex.auth import OIDC, GitHub, Google, OAuth
from pyconvex.errors import ConvexError


async def test_github_is_plain_oauth_with_githubs_endpoints_and_user(monkeypatch: pytest.MonkeyPatch) -> None:
    github = GitHub()
    assert isinstance(github, OAuth) and not isinstance(github, OIDC) and github.type == "oauth"
    assert (github.id, github.authorization_url, github.token_url, github.userinfo_url) == (
        "github", "https://github.com/login/oauth/authorize", "https://github.com/login/oauth/access_token",
        "https://api.github.com/user")
    assert github.token_auth_method({}) == "client_secret_post"
    with pytest.raises(ConvexError, match="set AUTH_GITHUB_ID"):
        github.credentials()
    monkeypatch.setenv("AUTH_GITHUB_ID", "gh-id")
    monkeypatch.setenv("AUTH_GITHUB_SECRET", "gh-secret")
    assert github.credentials() == ("gh-id", "gh-secret")
    # GET https://api.github.com/user, as GitHub documents it (a numeric id; name may be null).
    user = {"login": "octocat", "id": 583231, "avatar_url": "https://avatars.githubusercontent.com/u/583231",
            "name": None, "email": "octocat@github.com"}
    assert await github.mapped_profile(user, {}) == {
        "id": "583231", "name": "octocat", "email": "octocat@github.com",
        "image": "https://avatars.githubusercontent.com/u/583231"}
    assert GitHub(id="gh-enterprise", scope="read:user").id == "gh-enterprise"


def test_google_is_oidc_by_discovery(monkeypatch: pytest.MonkeyPatch) -> None:
    google = Google()
    assert isinstance(google, OIDC) and google.type == "oidc"
    assert (google.id, google.issuer) == ("google", "https://accounts.google.com")
    monkeypatch.setenv("AUTH_GOOGLE_ID", "g-id")
    assert google.credentials() == ("g-id", None)
    supported = {"token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"]}
    assert google.token_auth_method(supported) == "client_secret_basic"


class _GitHubApi(BaseHTTPRequestHandler):
    """A stand-in for api.github.com's two user endpoints, answering in GitHub's documented
    shapes (github.com is not reachable from tests): a user with a private email."""

    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        bodies: dict[str, Any] = {
            "/user": {"login": "hubot", "id": 42, "name": "Hubot", "email": None, "avatar_url": None},
            "/user/emails": [{"email": "hubot@users.noreply.github.com", "primary": False, "verified": True},
                             {"email": "hubot@example.test", "primary": True, "verified": True}],
        }
        body = json.dumps(bodies[self.path]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def github_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _GitHubApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_github_reads_a_private_email_from_the_emails_endpoint(github_api: str) -> None:
    github = GitHub(userinfo_url=f"{github_api}/user")
    _GitHubApi.seen.clear()
    async with httpx.AsyncClient() as client:
        info = await github.user_profile(client, {"access_token": "gho_token"}, None)
    assert _GitHubApi.seen == [("/user", "Bearer gho_token"), ("/user/emails", "Bearer gho_token")]
    assert await github.mapped_profile(info, {}) == {"id": "42", "name": "Hubot", "email": "hubot@example.test"}
