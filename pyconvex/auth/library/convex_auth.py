"""``convex_auth(providers=[...])``: the functions and HTTP routes of Convex Auth's server.

>>> # convex/auth.py
>>> auth, sign_in, sign_out, store = convex_auth(providers=[Password()])

publishes ``auth:signIn`` and ``auth:signOut`` (public actions), ``auth:store`` (the
internal mutation they write through) and ``auth:isAuthenticated`` when exported, with the
argument and result shapes of ``@convex-dev/auth`` 0.0.95, so its React client
(``ConvexAuthProvider``, ``useAuthActions``) works unchanged. The module must be
``convex/auth.py``: the client and the library call these paths by name.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from pyconvex.auth.library.accounts import AuthActionCtx
from pyconvex.auth.library.keys import convex_site_url, jwks_json
from pyconvex.auth.library.providers import Provider
from pyconvex.auth.library.sessions import get_auth_session_id, get_auth_user_id
from pyconvex.auth.library.settings import AuthConfig, Callbacks
from pyconvex.auth.library.sign_in import sign_in_impl
from pyconvex.auth.library.store import run_store
from pyconvex.functions import HttpRouter, RegisteredFunction, action, http_action, internal_mutation, query
from pyconvex.schema import v

_CACHE_CONTROL = "public, max-age=15, stale-while-revalidate=15, stale-if-error=86400"


class AuthHelper:
    """The ``auth`` of ``convex_auth``: HTTP routes and (deprecated) id helpers."""

    def __init__(self, config: AuthConfig) -> None:
        self.config = config

    async def get_user_id(self, ctx: Any) -> str | None:
        return await get_auth_user_id(ctx)

    async def get_session_id(self, ctx: Any) -> str | None:
        return await get_auth_session_id(ctx)

    def add_http_routes(self, http: HttpRouter) -> None:
        """Serve ``/.well-known/openid-configuration`` and ``/.well-known/jwks.json`` on the
        site URL, where the deployment finds the keys to verify its own tokens, and, with
        OAuth providers, ``/api/auth/signin/*`` and ``/api/auth/callback/*``."""

        @http_action
        async def openid_configuration(ctx: Any, request: Request) -> Response:
            site = convex_site_url()
            body = {"issuer": site, "jwks_uri": f"{site}/.well-known/jwks.json",
                    "authorization_endpoint": f"{site}/oauth/authorize"}
            return _json(body)

        @http_action
        async def jwks(ctx: Any, request: Request) -> Response:
            return Response(jwks_json(), media_type="application/json",
                            headers={"Cache-Control": _CACHE_CONTROL})

        http.route(path="/.well-known/openid-configuration", method="GET", handler=openid_configuration)
        http.route(path="/.well-known/jwks.json", method="GET", handler=jwks)
        if self.config.has_oauth:
            from pyconvex.auth.library.oauth_routes import add_oauth_routes

            add_oauth_routes(http, self.config)


def _json(body: dict[str, Any]) -> Response:
    import json

    return Response(json.dumps(body), media_type="application/json",
                    headers={"Cache-Control": _CACHE_CONTROL})


class ConvexAuth:
    """What :func:`convex_auth` returns: unpack it as ``auth, sign_in, sign_out, store``;
    ``is_authenticated`` is there too for frameworks that ask."""

    def __init__(self, config: AuthConfig, module: str | None) -> None:
        self.config = config
        self.auth = AuthHelper(config)

        async def sign_in(
            ctx: Any, provider: str | None = None, params: Any = None, verifier: str | None = None,
            refreshToken: str | None = None, calledBy: str | None = None,
        ) -> dict[str, Any]:
            if calledBy is not None:
                print(f"`auth:signIn` called by {calledBy}")
            chosen = config.provider(provider) if provider is not None else None
            args = {"params": params, "verifier": verifier, "refreshToken": refreshToken}
            result = await sign_in_impl(AuthActionCtx(ctx, config), config, chosen, args,
                                        generate_tokens=True, allow_extra=False)
            if result["kind"] == "redirect":
                return {"redirect": result["redirect"], "verifier": result["verifier"]}
            if result["kind"] == "started":
                return {"started": True}
            signed = result["signedIn"]
            return {"tokens": signed["tokens"] if signed is not None else None}

        async def sign_out(ctx: Any) -> None:
            await ctx.run_mutation("auth:store", {"args": {"type": "signOut"}})

        async def store(ctx: Any, args: Any) -> Any:
            return await run_store(ctx, config, args)

        async def is_authenticated(ctx: Any) -> bool:
            return await ctx.auth.get_user_identity() is not None

        for fn in (sign_in, sign_out, store, is_authenticated):
            if module is not None:
                fn.__module__ = module  # published by the module that called convex_auth
        self.sign_in: RegisteredFunction = _named(action(args={
            "provider": v.optional(v.string()), "params": v.optional(v.any()),
            "verifier": v.optional(v.string()), "refreshToken": v.optional(v.string()),
            "calledBy": v.optional(v.string()),
        })(sign_in), "signIn")
        self.sign_out: RegisteredFunction = _named(action(args={})(sign_out), "signOut")
        self.store: RegisteredFunction = _named(internal_mutation(args={"args": v.any()})(store), "store")
        self.is_authenticated: RegisteredFunction = _named(
            query(args={})(is_authenticated), "isAuthenticated")

    def __iter__(self) -> Iterator[Any]:
        return iter((self.auth, self.sign_in, self.sign_out, self.store))


def _named(fn: RegisteredFunction, name: str) -> RegisteredFunction:
    fn.name = name
    return fn


def convex_auth(
    providers: list[Provider],
    *,
    callbacks: Callbacks | None = None,
    jwt_duration_ms: float | None = None,
    custom_claims: Callable[[Any, dict[str, Any]], Any] | None = None,
    session_total_duration_ms: float | None = None,
    session_inactive_duration_ms: float | None = None,
    max_failed_attempts_per_hour: int = 10,
    max_failed_attempts_per_ip_per_hour: int | None = 100,
) -> ConvexAuth:
    """Configure auth; unpack the result in ``convex/auth.py``:
    ``auth, sign_in, sign_out, store = convex_auth(providers=[Password()])``.

    ``jwt_duration_ms`` (1 h) is an access token's life; a session ends after
    ``session_total_duration_ms`` (30 days) or ``session_inactive_duration_ms`` (30 days)
    without a refresh. ``custom_claims(ctx, {"userId", "sessionId"})`` adds claims to
    access tokens. ``max_failed_attempts_per_hour`` limits wrong passwords and codes per
    account (or email/phone); ``max_failed_attempts_per_ip_per_hour`` (None: no limit)
    per client address, the ``ip`` of ``ctx.meta.get_request_metadata()``.
    """
    config = AuthConfig(
        providers=list(providers) if isinstance(providers, (list, tuple)) else providers,
        callbacks=callbacks or Callbacks(), jwt_duration_ms=jwt_duration_ms, custom_claims=custom_claims,
        session_total_duration_ms=session_total_duration_ms,
        session_inactive_duration_ms=session_inactive_duration_ms,
        max_failed_attempts_per_hour=max_failed_attempts_per_hour,
        max_failed_attempts_per_ip_per_hour=max_failed_attempts_per_ip_per_hour,
    )
    caller = sys._getframe(1).f_globals.get("__name__")
    return ConvexAuth(config, caller if isinstance(caller, str) else None)
