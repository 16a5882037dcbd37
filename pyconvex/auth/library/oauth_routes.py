"""``/api/auth/signin/<provider>`` and ``/api/auth/callback/<provider>``: the OAuth legs
that run on the site URL (see :mod:`.oauth` for the whole flow).

Everything the callback must trust comes from HttpOnly cookies set by the sign-in
route (``state``, the PKCE verifier, the ``nonce``, ``redirectTo``) and from the
provider's own answers; the callback refuses a ``state`` that differs from its cookie,
and the one-time code only works with the verifier the client kept at step 1.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pyconvex.auth.library.keys import convex_site_url
from pyconvex.auth.library.oauth import HTTP_TIMEOUT_S, OAuth
from pyconvex.auth.library.providers import random_string
from pyconvex.auth.library.settings import AuthConfig
from pyconvex.auth.library.sign_in import redirect_absolute_url, set_query_param
from pyconvex.errors import ConvexError
from pyconvex.functions import HttpRouter, http_action

COOKIE_MAX_AGE_S = 15 * 60
CODE_LIFETIME_MS = 2 * 60 * 1000
SIGN_IN_PREFIX = "/api/auth/signin/"
CALLBACK_PREFIX = "/api/auth/callback/"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signature(code_verifier: str, state: str, nonce: str) -> str:
    """Binds the browser's cookies to the ``authVerifiers`` row of this sign-in."""
    return hashlib.sha256(f"{code_verifier}|{state}|{nonce}".encode()).hexdigest()


def _cookie_names(provider_id: str) -> dict[str, str]:
    return {k: f"pyconvex_auth_{provider_id}_{k}" for k in ("state", "pkce", "nonce", "redirect")}


def _provider(config: AuthConfig, request: Request, prefix: str) -> OAuth:
    provider_id = request.url.path[len(prefix):].strip("/")
    provider = config.provider(provider_id)
    if not isinstance(provider, OAuth):
        raise ConvexError(f"Provider {provider_id!r} is not an OAuth provider.")
    return provider


def add_oauth_routes(http: HttpRouter, config: AuthConfig) -> None:
    @http_action
    async def sign_in(ctx: Any, request: Request) -> Response:
        try:
            provider = _provider(config, request, SIGN_IN_PREFIX)
            verifier = request.query_params.get("code")
            if not verifier:
                raise ConvexError("Missing sign-in verifier")
            redirect_to = request.query_params.get("redirectTo")
            if redirect_to is not None:
                await redirect_absolute_url(config, {"redirectTo": redirect_to})  # refuse early
            client_id, _ = provider.credentials()
            state, code_verifier, nonce = _b64(secrets.token_bytes(32)), _b64(secrets.token_bytes(32)), ""
            if provider.type == "oidc":
                nonce = _b64(secrets.token_bytes(16))
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
                endpoints = await provider.endpoints(client)
            await ctx.run_mutation("auth:store", {"args": {
                "type": "verifierSignature", "verifier": verifier,
                "signature": signature(code_verifier, state, nonce)}})
        except ConvexError as e:
            return Response(str(e.data), status_code=400, media_type="text/plain")
        query = {
            "response_type": "code", "client_id": client_id,
            "redirect_uri": f"{convex_site_url()}{CALLBACK_PREFIX}{provider.id}",
            "scope": provider.scope, "state": state,
            "code_challenge": _b64(hashlib.sha256(code_verifier.encode()).digest()),
            "code_challenge_method": "S256", **provider.extra_authorization_params,
        }
        if nonce:
            query["nonce"] = nonce
        location = f"{endpoints['authorization_endpoint']}?{urlencode(query)}"
        response = RedirectResponse(location, status_code=302)
        secure = convex_site_url().startswith("https://")
        names = _cookie_names(provider.id)
        values = {"state": state, "pkce": code_verifier, "nonce": nonce, "redirect": redirect_to or ""}
        for key, value in values.items():
            response.set_cookie(names[key], value, max_age=COOKIE_MAX_AGE_S, httponly=True, secure=secure,
                                samesite="lax", path="/")
        return response

    @http_action
    async def callback(ctx: Any, request: Request) -> Response:
        provider = _provider(config, request, CALLBACK_PREFIX)
        names = _cookie_names(provider.id)
        cookies = _cookies(request)
        redirect_to = cookies.get(names["redirect"]) or None
        try:
            wanted = {"redirectTo": redirect_to} if redirect_to else {}
            destination = await redirect_absolute_url(config, wanted)
        except ConvexError:  # a cookie altered to point elsewhere: home, not there
            destination = await redirect_absolute_url(config, {})
        params = dict(request.query_params)
        if request.method == "POST":
            params.update({k: v for k, v in (await request.form()).items() if isinstance(v, str)})
        try:
            code = await _finish(ctx, provider, params, cookies, names)
        except (ConvexError, httpx.HTTPError, KeyError, ValueError) as e:
            print(f"pyconvex.auth: OAuth callback of {provider.id} failed: {e}")
            response: Response = RedirectResponse(destination, status_code=302)
        else:
            response = RedirectResponse(set_query_param(destination, "code", code), status_code=302)
            response.headers["Cache-Control"] = "must-revalidate"
        for name in names.values():
            response.delete_cookie(name, path="/")
        return response

    for method in ("GET",):
        http.route(path_prefix=SIGN_IN_PREFIX, method=method, handler=sign_in)
    for method in ("GET", "POST"):
        http.route(path_prefix=CALLBACK_PREFIX, method=method, handler=callback)


def _cookies(request: Request) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    jar.load(request.headers.get("cookie", ""))
    return {k: m.value for k, m in jar.items()}


async def _finish(
    ctx: Any, provider: OAuth, params: dict[str, str], cookies: dict[str, str], names: dict[str, str]
) -> str:
    if "error" in params:
        raise ConvexError(f"the provider refused: {params['error']} {params.get('error_description', '')}")
    state, code_verifier = cookies.get(names["state"]), cookies.get(names["pkce"])
    nonce = cookies.get(names["nonce"], "")
    if not state or not code_verifier:
        raise ConvexError("no sign-in in progress in this browser (missing cookies)")
    if params.get("state") != state:
        raise ConvexError("state mismatch")
    if not params.get("code"):
        raise ConvexError("no authorization code")
    client_id, client_secret = provider.credentials()
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
        endpoints = await provider.endpoints(client)
        form = {"grant_type": "authorization_code", "code": params["code"], "code_verifier": code_verifier,
                "redirect_uri": f"{convex_site_url()}{CALLBACK_PREFIX}{provider.id}", "client_id": client_id}
        if client_secret and provider.token_auth_method(endpoints) == "client_secret_basic":
            response = await client.post(endpoints["token_endpoint"], data=form,
                                         auth=httpx.BasicAuth(client_id, client_secret),
                                         headers={"Accept": "application/json"})
        else:
            if client_secret:
                form["client_secret"] = client_secret
            response = await client.post(endpoints["token_endpoint"], data=form,
                                         headers={"Accept": "application/json"})
        if response.status_code >= 400:
            raise ConvexError(f"token exchange failed ({response.status_code}): {response.text[:200]}")
        tokens = response.json()
        if "access_token" not in tokens:
            raise ConvexError(f"token exchange gave no access token: {tokens.get('error', tokens)}")
        info = await provider.user_profile(client, tokens, nonce or None)
    profile = await provider.mapped_profile(info, tokens)
    account_id = profile.pop("id")
    code = random_string(8, "0123456789")
    await ctx.run_mutation("auth:store", {"args": {
        "type": "userOAuth", "provider": provider.id, "providerAccountId": account_id, "profile": profile,
        "signature": signature(code_verifier, state, nonce), "code": code,
        "expirationTime": time.time() * 1000 + CODE_LIFETIME_MS}})
    return code
