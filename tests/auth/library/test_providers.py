"""GitHub and Google as configurations of OAuth / OIDC: their endpoints, credentials from
the environment and profile mapping (the flow itself runs against a real local provider
in test_oauth.py; github.com and accounts.google.com are not reachable from tests)."""

from __future__ import annotations

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
