"""OAuth 2 and OpenID Connect providers: ``OAuth``, ``OIDC`` (by issuer discovery),
``GitHub`` and ``Google``.

The flow is Convex Auth's (authorization code with PKCE and ``state``; ``nonce`` for
OIDC), run by the routes ``auth.add_http_routes`` mounts (:mod:`.oauth_routes`):

1. ``signIn("github")`` creates an ``authVerifiers`` row and answers with a redirect to
   ``<CONVEX_SITE_URL>/api/auth/signin/github?code=<verifier>``; the client keeps the
   verifier;
2. that route makes ``state``, a PKCE verifier and a ``nonce``, keeps them in HttpOnly
   cookies, binds their hash (the *signature*) to the verifier row, and redirects to the
   provider;
3. the provider sends the user to ``/api/auth/callback/github``; the route checks
   ``state`` against the cookie, exchanges the code (with the PKCE verifier and the
   client secret), verifies the ID token (OIDC: signature, issuer, audience, nonce,
   expiry), maps the profile, records the user and account, and redirects to
   ``SITE_URL`` (or an allowed ``redirectTo``) with a one-time ``code``;
4. the client calls ``signIn`` with that code and its verifier and gets tokens.

Client ids and secrets default to Convex Auth's environment variables:
``AUTH_<ID>_ID`` and ``AUTH_<ID>_SECRET`` (``AUTH_GITHUB_ID``, ...).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from pyconvex.auth.library.providers import Provider, maybe_await
from pyconvex.errors import ConvexError

HTTP_TIMEOUT_S = 15.0
Profile = Callable[[dict[str, Any], dict[str, Any]], Any]


def _env_name(provider_id: str, what: str) -> str:
    return f"AUTH_{provider_id.upper().replace('-', '_')}_{what}"


@dataclass
class OAuth(Provider):
    """A plain OAuth 2 provider: its endpoints, and ``profile(userinfo, tokens)`` mapping
    the provider's user to ``{"id": <stable account id>, **users fields}``."""

    id: str = "oauth"
    authorization_url: str = ""
    token_url: str = ""
    userinfo_url: str | None = None
    scope: str = ""
    client_id: str | None = None
    client_secret: str | None = None
    profile: Profile | None = None
    allow_dangerous_email_account_linking: bool = True
    extra_authorization_params: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.type = "oauth"

    def token_auth_method(self, endpoints: dict[str, Any]) -> str:
        """How the client secret goes to the token endpoint: in the form (what plain OAuth
        providers such as GitHub expect), or, for OIDC, HTTP Basic unless the provider's
        discovery document supports only the form."""
        if self.type != "oidc":
            return "client_secret_post"
        supported = endpoints.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        return "client_secret_basic" if "client_secret_basic" in supported else "client_secret_post"

    def credentials(self) -> tuple[str, str | None]:
        client_id = self.client_id or os.environ.get(_env_name(self.id, "ID"))
        if not client_id:
            raise ConvexError(f"Provider {self.id!r} has no client id: set {_env_name(self.id, 'ID')}.")
        return client_id, self.client_secret or os.environ.get(_env_name(self.id, "SECRET"))

    async def endpoints(self, client: httpx.AsyncClient) -> dict[str, Any]:
        return {"authorization_endpoint": self.authorization_url, "token_endpoint": self.token_url,
                "userinfo_endpoint": self.userinfo_url}

    async def user_profile(
        self, client: httpx.AsyncClient, tokens: dict[str, Any], nonce: str | None
    ) -> dict[str, Any]:
        """The provider's user: from its userinfo endpoint (OAuth)."""
        endpoints = await self.endpoints(client)
        url = endpoints.get("userinfo_endpoint")
        if not url:
            raise ConvexError(f"Provider {self.id!r} has no userinfo endpoint.")
        response = await client.get(url, headers={"Authorization": f"Bearer {tokens['access_token']}",
                                                  "Accept": "application/json"})
        response.raise_for_status()
        info: dict[str, Any] = response.json()
        return info

    async def mapped_profile(self, info: dict[str, Any], tokens: dict[str, Any]) -> dict[str, Any]:
        made = await maybe_await(self.profile(info, tokens)) if self.profile else _default_profile(info)
        mapped = dict(made)
        account_id = mapped.pop("id", None)
        if account_id is None or account_id == "":
            raise ConvexError(f"The profile of provider {self.id!r} must give a string `id`.")
        return {"id": str(account_id), **{k: v for k, v in mapped.items() if v is not None}}


def _default_profile(info: dict[str, Any]) -> dict[str, Any]:
    return {"id": info.get("sub", info.get("id")), "name": info.get("name"),
            "email": info.get("email"), "image": info.get("picture")}


@dataclass
class OIDC(OAuth):
    """An OpenID Connect provider found from its ``issuer`` (``/.well-known/openid-configuration``).
    The user comes from the verified ID token (plus userinfo when the token lacks ``email``)."""

    id: str = "oidc"
    issuer: str = ""
    scope: str = "openid profile email"
    _discovery: dict[str, Any] | None = field(default=None, repr=False)
    _jwks: tuple[float, KeySet] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.type = "oidc"
        if not self.issuer:
            raise ValueError(f"OIDC provider {self.id!r} needs issuer=.")
        self.issuer = self.issuer.rstrip("/")

    async def endpoints(self, client: httpx.AsyncClient) -> dict[str, Any]:
        if self._discovery is None:
            response = await client.get(f"{self.issuer}/.well-known/openid-configuration")
            response.raise_for_status()
            found = response.json()
            if str(found.get("issuer", "")).rstrip("/") != self.issuer:
                raise ConvexError(
                    f"OIDC discovery of {self.issuer} names another issuer: {found.get('issuer')!r}.")
            self._discovery = found
        return self._discovery

    async def _keys(self, client: httpx.AsyncClient, refresh: bool = False) -> KeySet:
        if self._jwks is None or (refresh and time.monotonic() - self._jwks[0] > 30):
            uri = (await self.endpoints(client))["jwks_uri"]
            response = await client.get(uri)
            response.raise_for_status()
            self._jwks = (time.monotonic(), KeySet.import_key_set(response.json()))
        return self._jwks[1]

    async def user_profile(
        self, client: httpx.AsyncClient, tokens: dict[str, Any], nonce: str | None
    ) -> dict[str, Any]:
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise ConvexError(f"Provider {self.id!r} sent no ID token.")
        client_id, _ = self.credentials()
        claims = await self._verify(client, id_token, client_id)
        if nonce is not None and claims.get("nonce") != nonce:
            raise ConvexError("ID token nonce mismatch.")
        if "email" not in claims and (await self.endpoints(client)).get("userinfo_endpoint"):
            info = await OAuth.user_profile(self, client, tokens, nonce)
            if info.get("sub") == claims.get("sub"):
                claims = {**info, **claims}
        return claims

    async def _verify(self, client: httpx.AsyncClient, id_token: str, client_id: str) -> dict[str, Any]:
        for refresh in (False, True):
            keys = await self._keys(client, refresh)
            try:
                token = jwt.decode(id_token, keys, algorithms=["RS256", "ES256", "PS256", "EdDSA"])
                break
            except JoseError:
                if refresh:
                    raise ConvexError(f"The ID token of {self.id!r} does not verify with its JWKS.") from None
        claims = dict(token.claims)
        audiences = claims.get("aud")
        audiences = [audiences] if isinstance(audiences, str) else list(audiences or [])
        now = time.time()
        if str(claims.get("iss", "")).rstrip("/") != self.issuer:
            raise ConvexError(f"ID token issuer {claims.get('iss')!r} is not {self.issuer}.")
        if client_id not in audiences:
            raise ConvexError("ID token audience does not name this client.")
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] + 5 < now:
            raise ConvexError("ID token expired.")
        return claims


@dataclass
class _GitHub(OAuth):
    """GitHub's OAuth, whose user may keep their email private: then it is read from
    ``/user/emails`` (the primary one), as ``@auth/core``'s GitHub provider does."""

    async def user_profile(
        self, client: httpx.AsyncClient, tokens: dict[str, Any], nonce: str | None
    ) -> dict[str, Any]:
        info = await super().user_profile(client, tokens, nonce)
        if not info.get("email") and self.userinfo_url:
            response = await client.get(f"{self.userinfo_url.rstrip('/')}/emails", headers={
                "Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json"})
            emails = response.json() if response.is_success else []
            if isinstance(emails, list) and emails:
                chosen = next((e for e in emails if isinstance(e, dict) and e.get("primary")), emails[0])
                if isinstance(chosen, dict) and chosen.get("email"):
                    info = {**info, "email": chosen["email"]}
        return info


def GitHub(**options: Any) -> OAuth:
    """GitHub sign-in (``AUTH_GITHUB_ID`` / ``AUTH_GITHUB_SECRET``). A user whose email is
    private gets their primary address from ``/user/emails`` (scope ``user:email``)."""

    def profile(info: dict[str, Any], tokens: dict[str, Any]) -> dict[str, Any]:
        return {"id": str(info["id"]), "name": info.get("name") or info.get("login"),
                "email": info.get("email"), "image": info.get("avatar_url")}

    settings: dict[str, Any] = {
        "id": "github", "authorization_url": "https://github.com/login/oauth/authorize",
        "token_url": "https://github.com/login/oauth/access_token",
        "userinfo_url": "https://api.github.com/user", "scope": "read:user user:email", "profile": profile,
    }
    settings.update(options)
    return _GitHub(**settings)


def Google(**options: Any) -> OIDC:
    """Google sign-in by OIDC (``AUTH_GOOGLE_ID`` / ``AUTH_GOOGLE_SECRET``)."""
    settings: dict[str, Any] = {"id": "google", "issuer": "https://accounts.google.com"}
    settings.update(options)
    return OIDC(**settings)
