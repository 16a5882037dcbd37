"""``auth:store``: the one internal mutation through which ``auth:signIn`` reads and writes.

``auth:signIn`` and ``auth:signOut`` are actions (they hash passwords, send email, talk
to OAuth providers); every database step they take is one call of this mutation,
``{"args": {"type": <step>, ...}}``, so each step is one serializable transaction and a
failed step writes nothing. Random codes and password hashes are made in the action and
handed in, which keeps this mutation deterministic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from pyconvex.auth.library import rate_limits
from pyconvex.auth.library.providers import Email, maybe_await
from pyconvex.auth.library.sessions import (
    _get,
    delete_session,
    get_auth_session_id,
    invalidate_sessions,
    refresh_session,
    replace_current_session,
    session_info,
)
from pyconvex.auth.library.settings import AuthConfig
from pyconvex.auth.library.tables import ACCOUNTS, SESSIONS, USERS, VERIFICATION_CODES, VERIFIERS
from pyconvex.auth.library.users import account_by_provider_id, upsert_user_and_account
from pyconvex.errors import ConvexError

Step = Callable[[Any, AuthConfig, dict[str, Any]], Awaitable[Any]]


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _without_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


async def _sign_in(ctx: Any, config: AuthConfig, a: dict[str, Any]) -> Any:
    user_id = a["userId"]
    session_id = a.get("sessionId") or await replace_current_session(ctx, config, user_id)
    return await session_info(ctx, config, user_id, session_id, bool(a["generateTokens"]))


async def _sign_out(ctx: Any, config: AuthConfig, a: dict[str, Any]) -> Any:
    session = await _get(ctx, SESSIONS, await get_auth_session_id(ctx))
    if session is None:
        return None
    await delete_session(ctx, session["_id"])
    return {"userId": session["userId"], "sessionId": session["_id"]}


async def _refresh_session(ctx: Any, config: AuthConfig, a: dict[str, Any]) -> Any:
    return await refresh_session(ctx, config, str(a["refreshToken"]))


async def _verify_code_and_sign_in(ctx: Any, config: AuthConfig, a: dict[str, Any]) -> Any:
    params = a.get("params") or {}
    identifier = params.get("email", params.get("phone"))
    per_account = (rate_limits.account_limit(config, identifier, code=True)
                   if isinstance(identifier, str) else None)
    address = await rate_limits.address_limit(ctx, config)
    await rate_limits.check(ctx, address)
    await rate_limits.check(ctx, per_account)
    verified = await _verify_code_only(ctx, config, a, params)
    if verified is None:  # the charges commit: this mutation returns, it does not raise
        await rate_limits.charge(ctx, address)
        await rate_limits.charge(ctx, per_account)
        return None
    if per_account is not None:
        await rate_limits.reset(ctx, per_account.identifier)
    session_id = await replace_current_session(ctx, config, verified)
    return await session_info(ctx, config, verified, session_id, bool(a["generateTokens"]))


async def _verify_code_only(
    ctx: Any, config: AuthConfig, a: dict[str, Any], params: dict[str, Any]
) -> str | None:
    code = params.get("code")
    if not isinstance(code, str):
        return None
    found = await ctx.db.query(VERIFICATION_CODES).with_index(
        "code", lambda q: q.eq("code", sha256_hex(code))).unique()
    if found is None:
        print("pyconvex.auth: invalid verification code")
        return None
    if found.get("verifier") != a.get("verifier"):
        print("pyconvex.auth: invalid verifier for the code")
        return None
    if found["expirationTime"] < ctx.now():
        print("pyconvex.auth: expired verification code")
        await ctx.db.delete(found["_id"])
        return None
    account = await ctx.db.get(found["accountId"])
    if account is None:
        return None
    method_id = a.get("provider")
    if method_id is not None and found["provider"] != method_id:
        print(f"pyconvex.auth: code of provider {found['provider']!r} offered to {method_id!r}")
        return None
    method = config.provider_or_none(found["provider"], bool(a.get("allowExtraProviders")))
    if method is None:
        return None
    if isinstance(method, Email) and method.authorize is not None:
        try:
            await maybe_await(method.authorize(params, account))
        except Exception as e:
            print(f"pyconvex.auth: the code failed the provider's authorize check: {e}")
            return None
    provider = config.provider_or_none(account["provider"])
    if provider is None:
        return None
    await ctx.db.delete(found["_id"])
    user_id: str = account["userId"]
    if provider.type not in ("oauth", "oidc"):
        profile: dict[str, Any] = {}
        if found.get("emailVerified") is not None:
            profile.update(email=found["emailVerified"], emailVerified=True)
        if found.get("phoneVerified") is not None:
            profile.update(phone=found["phoneVerified"], phoneVerified=True)
        user_id, _ = await upsert_user_and_account(
            ctx, config, await get_auth_session_id(ctx), {"existingAccount": account},
            kind="verification", provider=provider, profile=profile)
    return user_id


async def _verifier(ctx: Any, config: AuthConfig, a: dict[str, Any]) -> Any:
    return await ctx.db.insert(VERIFIERS, _without_none({"sessionId": await get_auth_session_id(ctx)}))


async def _verifier_signature(ctx: Any, config: AuthConfig, a: dict[str, Any]) -> Any:
    doc = await _get(ctx, VERIFIERS, a["verifier"])
    if doc is None:
        raise ConvexError("Invalid verifier")
    await ctx.db.patch(doc["_id"], {"signature": a["signature"]})


async def _user_oauth(ctx: Any, config: AuthConfig, a: dict[str, Any]) -> Any:
    provider = config.provider(a["provider"])
    verifier = await ctx.db.query(VERIFIERS).with_index(
        "signature", lambda q: q.eq("signature", a["signature"])).unique()
    if verifier is None:
        raise ConvexError("Invalid state")
    existing = await account_by_provider_id(ctx, provider.id, a["providerAccountId"])
    _, account_id = await upsert_user_and_account(
        ctx, config, verifier.get("sessionId"),
        ({"existingAccount": existing} if existing is not None
         else {"providerAccountId": a["providerAccountId"]}),
        kind="oauth", provider=provider, profile=dict(a["profile"]))
    await ctx.db.delete(verifier["_id"])
    await _replace_code(ctx, account_id, {
        "accountId": account_id, "provider": provider.id, "code": sha256_hex(a["code"]),
        "expirationTime": a["expirationTime"], "verifier": verifier["_id"],
    })
    return None


async def _replace_code(ctx: Any, account_id: str, fields: dict[str, Any]) -> None:
    """One live code per account: a new code replaces the last one."""
    old = await ctx.db.query(VERIFICATION_CODES).with_index(
        "accountId", lambda q: q.eq("accountId", account_id)).unique()
    if old is not None:
        await ctx.db.delete(old["_id"])
    await ctx.db.insert(VERIFICATION_CODES, _without_none(fields))


async def _create_verification_code(ctx: Any, config: AuthConfig, a: dict[str, Any]) -> Any:
    provider = config.provider(a["provider"], bool(a.get("allowExtraProviders")))
    if not isinstance(provider, Email):
        raise ConvexError(f"Provider {provider.id!r} does not send verification codes.")
    email, phone = a.get("email"), a.get("phone")
    address = email if email is not None else phone
    if not isinstance(address, str) or not address:
        raise ConvexError(f"Missing `{provider.address_field}` param for provider {provider.id!r}.")
    if a.get("accountId") is not None:
        existing = await _get(ctx, ACCOUNTS, a["accountId"])
        if existing is None:
            raise ConvexError(f"Expected an account to exist for ID {a['accountId']!r}")
    else:
        existing = await account_by_provider_id(ctx, provider.id, address)
    profile = {"email": email} if provider.type == "email" else {"phone": phone}
    _, account_id = await upsert_user_and_account(
        ctx, config, await get_auth_session_id(ctx),
        {"existingAccount": existing} if existing is not None else {"providerAccountId": address},
        kind=provider.type, provider=provider, profile=profile)
    await _replace_code(ctx, account_id, {
        "accountId": account_id, "provider": provider.id, "code": sha256_hex(a["code"]),
        "expirationTime": a["expirationTime"], "emailVerified": email, "phoneVerified": phone,
    })
    return address


async def _create_account(ctx: Any, config: AuthConfig, a: dict[str, Any]) -> Any:
    provider = config.provider(a["provider"])
    account = a["account"]
    existing = await account_by_provider_id(ctx, provider.id, account["id"])
    if existing is not None:
        if a.get("checkSecret"):  # signing up again is a password check: limited alike
            await rate_limits.check_and_charge(ctx, config, existing["_id"])
        return {"account": existing, "user": await ctx.db.get(existing["userId"]), "existed": True}
    user_id, account_id = await upsert_user_and_account(
        ctx, config, await get_auth_session_id(ctx),
        {"providerAccountId": account["id"], "secret": account.get("secret")},
        kind="credentials", provider=provider, profile=dict(a.get("profile") or {}),
        should_link_via_email=bool(a.get("shouldLinkViaEmail")),
        should_link_via_phone=bool(a.get("shouldLinkViaPhone")))
    return {"account": await ctx.db.get(account_id), "user": await ctx.db.get(user_id), "existed": False}


async def _retrieve_account(ctx: Any, config: AuthConfig, a: dict[str, Any]) -> Any:
    existing = await account_by_provider_id(ctx, a["provider"], a["account"]["id"])
    if a.get("checkSecret"):
        # Charged before the secret is checked (in the action): concurrent guesses each
        # pay, so no burst of parallel attempts gets past the limit. A name with no
        # account is charged under the name tried (the same write, so the same time):
        # guessing at unknown emails is limited too, and looks the same.
        await rate_limits.check_and_charge(
            ctx, config,
            existing["_id"] if existing is not None else f"{a['provider']}:{a['account']['id']}")
    if existing is None:
        return "InvalidAccountId"
    user = await ctx.db.get(existing["userId"])
    if user is None:
        return "InvalidAccountId"
    return {"account": existing, "user": user}


async def _reset_rate_limit(ctx: Any, config: AuthConfig, a: dict[str, Any]) -> Any:
    await rate_limits.succeeded(ctx, config, a["identifier"])


async def _modify_account(ctx: Any, config: AuthConfig, a: dict[str, Any]) -> Any:
    existing = await account_by_provider_id(ctx, a["provider"], a["account"]["id"])
    if existing is None:
        raise ConvexError(f"Cannot modify account with ID {a['account']['id']} because it does not exist")
    await ctx.db.patch(existing["_id"], {"secret": a["account"]["secret"]})


async def _revoke_session(ctx: Any, config: AuthConfig, a: dict[str, Any]) -> Any:
    if await _get(ctx, SESSIONS, a["sessionId"]) is None:
        raise ConvexError(f"No session {a['sessionId']!r}.")
    await delete_session(ctx, a["sessionId"])


async def _invalidate_sessions(ctx: Any, config: AuthConfig, a: dict[str, Any]) -> Any:
    await invalidate_sessions(ctx, a["userId"], a.get("except"))


MAX_LISTED_SESSIONS = 1000


async def _list_sessions(ctx: Any, config: AuthConfig, a: dict[str, Any]) -> Any:
    """For operators (``pyconvex auth sessions``, the admin API): a user's sessions (all of
    them, by index), or the newest sessions of everyone (up to ``MAX_LISTED_SESSIONS``)."""
    if a.get("userId") is not None:
        if ctx.db.normalize_id(USERS, a["userId"]) is None:
            raise ConvexError(f"{a['userId']!r} is not a users id.")
        found = await ctx.db.query(SESSIONS).with_index(
            "userId", lambda q: q.eq("userId", a["userId"])).order("desc").collect()
    else:
        found = await ctx.db.query(SESSIONS).order("desc").take(MAX_LISTED_SESSIONS)
    return [{k: d[k] for k in ("_id", "_creationTime", "userId", "expirationTime")} for d in found]


STEPS: dict[str, Step] = {
    "signIn": _sign_in,
    "signOut": _sign_out,
    "refreshSession": _refresh_session,
    "verifyCodeAndSignIn": _verify_code_and_sign_in,
    "verifier": _verifier,
    "verifierSignature": _verifier_signature,
    "userOAuth": _user_oauth,
    "createVerificationCode": _create_verification_code,
    "createAccountFromCredentials": _create_account,
    "retrieveAccountWithCredentials": _retrieve_account,
    "resetSignInRateLimit": _reset_rate_limit,
    "modifyAccount": _modify_account,
    "invalidateSessions": _invalidate_sessions,
    "revokeSession": _revoke_session,
    "listSessions": _list_sessions,
}


async def run_store(ctx: Any, config: AuthConfig, args: Any) -> Any:
    if not isinstance(args, dict) or args.get("type") not in STEPS:
        kind = args.get("type") if isinstance(args, dict) else type(args).__name__
        raise ConvexError(f"auth:store: unknown step {kind!r} (expected one of {', '.join(STEPS)}).")
    return await STEPS[args["type"]](ctx, config, args)
