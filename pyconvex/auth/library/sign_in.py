"""What ``auth:signIn`` does with its arguments, provider type by provider type.

``{"refreshToken"}`` exchanges a refresh token; ``{"params": {"code"}}`` without a
provider finishes an OAuth or magic-link sign-in; otherwise the named provider decides:
credentials providers authorize at once, email/phone providers send a code (and accept
it in a second call with ``params.code``), OAuth providers answer with a redirect.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pyconvex.auth.library.keys import convex_site_url, site_url
from pyconvex.auth.library.providers import (
    ConvexCredentials,
    Email,
    Provider,
    VerificationRequest,
    maybe_await,
)
from pyconvex.auth.library.settings import AuthConfig
from pyconvex.errors import ConvexError

STORE = "auth:store"


async def _store(ctx: Any, step: str, **fields: Any) -> Any:
    return await ctx.run_mutation(STORE, {"args": {"type": step, **fields}})


async def sign_in_impl(
    ctx: Any, config: AuthConfig, provider: Provider | None, args: dict[str, Any],
    *, generate_tokens: bool, allow_extra: bool,
) -> dict[str, Any]:
    """``{"kind": "signedIn"|"refreshTokens"|"started"|"redirect", ...}``."""
    params = args.get("params") or {}
    if not isinstance(params, dict):
        raise ConvexError("auth:signIn: `params` must be an object.")
    if provider is None and args.get("refreshToken"):
        tokens = await _store(ctx, "refreshSession", refreshToken=args["refreshToken"])
        return {"kind": "refreshTokens", "signedIn": {"tokens": tokens} if tokens else None}
    if provider is None and params.get("code") is not None:
        result = await _store(ctx, "verifyCodeAndSignIn", params=params, generateTokens=True,
                              allowExtraProviders=allow_extra,
                              **({"verifier": args["verifier"]} if args.get("verifier") else {}))
        return {"kind": "signedIn", "signedIn": result}
    if provider is None:
        raise ConvexError("Cannot sign in: Missing `provider`, `params.code` or `refreshToken`")
    if isinstance(provider, Email):
        return await _email_or_phone(ctx, config, provider, args, params, generate_tokens, allow_extra)
    if isinstance(provider, ConvexCredentials):
        authorized = await provider.run_authorize(params, ctx)
        if authorized is None:
            return {"kind": "signedIn", "signedIn": None}
        session = {"sessionId": authorized["sessionId"]} if authorized.get("sessionId") else {}
        signed = await _store(ctx, "signIn", userId=authorized["userId"], generateTokens=generate_tokens,
                              **session)
        return {"kind": "signedIn", "signedIn": signed}
    if provider.type in ("oauth", "oidc"):
        return await _oauth(ctx, provider, args, params, allow_extra)
    raise ConvexError(f"Provider type {provider.type} is not supported yet")


async def _email_or_phone(
    ctx: Any, config: AuthConfig, provider: Email, args: dict[str, Any], params: dict[str, Any],
    generate_tokens: bool, allow_extra: bool,
) -> dict[str, Any]:
    if params.get("code") is not None:
        result = await _store(ctx, "verifyCodeAndSignIn", params=params, provider=provider.id,
                              generateTokens=generate_tokens, allowExtraProviders=allow_extra)
        if result is None:
            raise ConvexError("Could not verify code")
        return {"kind": "signedIn", "signedIn": result}
    code = await provider.new_code()
    expires = ctx.now() + provider.max_age_s * 1000
    address = params.get(provider.address_field)
    if not isinstance(address, str) or not address:
        raise ConvexError(f"Missing `{provider.address_field}` param for provider `{provider.id}`.")
    fields: dict[str, Any] = {provider.address_field: address}
    if args.get("accountId"):
        fields["accountId"] = args["accountId"]
    identifier = await _store(ctx, "createVerificationCode", provider=provider.id, code=code,
                              expirationTime=expires, allowExtraProviders=allow_extra, **fields)
    destination = await redirect_absolute_url(config, params)
    await provider.send(VerificationRequest(
        identifier=identifier, url=set_query_param(destination, "code", code), token=code,
        expires_ms=expires, provider=provider), ctx)
    return {"kind": "started", "started": True}


async def _oauth(
    ctx: Any, provider: Provider, args: dict[str, Any], params: dict[str, Any], allow_extra: bool
) -> dict[str, Any]:
    verifier = await _store(ctx, "verifier")
    query = {"code": verifier}
    redirect_to = params.get("redirectTo")
    if redirect_to is not None:
        if not isinstance(redirect_to, str):
            raise ConvexError(f"Expected `redirectTo` to be a string, got {redirect_to!r}")
        query["redirectTo"] = redirect_to
    url = f"{convex_site_url()}/api/auth/signin/{provider.id}?{urlencode(query)}"
    return {"kind": "redirect", "redirect": url, "verifier": verifier}


async def redirect_absolute_url(config: AuthConfig, params: dict[str, Any]) -> str:
    """Where to send the user back: ``SITE_URL``, or ``redirectTo`` if the callback (or,
    by default, being ``SITE_URL`` itself or a path under it) allows it."""
    redirect_to = params.get("redirectTo")
    if redirect_to is None:
        return site_url()
    if not isinstance(redirect_to, str):
        raise ConvexError(f"Expected `redirectTo` to be a string, got {redirect_to!r}")
    if config.callbacks.redirect is not None:
        return str(await maybe_await(config.callbacks.redirect({"redirectTo": redirect_to})))
    return default_redirect(redirect_to)


def default_redirect(redirect_to: str) -> str:
    """Only ``SITE_URL`` and what lies under it: anything else would be an open redirect."""
    base = site_url()
    if redirect_to.startswith("?") or (redirect_to.startswith("/") and not redirect_to.startswith("//")):
        return f"{base}{redirect_to}"
    if redirect_to.startswith(base) and redirect_to[len(base):len(base) + 1] in ("", "?", "/"):
        return redirect_to
    raise ConvexError(f"Invalid `redirectTo` {redirect_to} for configured SITE_URL: {base}")


def set_query_param(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    query.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(query)))
