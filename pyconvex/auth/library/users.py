"""Creating and linking users and accounts, inside the ``auth:store`` mutation.

The default policy is Convex Auth's: an account belongs to one user; a new account joins
the existing user with the same **verified** email (or phone) when the provider vouches
for it (an email code, an OAuth provider, or a credentials provider asking to link), and
otherwise gets a new user. ``callbacks.create_or_update_user`` replaces this policy.
"""

from __future__ import annotations

from typing import Any

from pyconvex.auth.library.providers import Provider, maybe_await
from pyconvex.auth.library.settings import AuthConfig
from pyconvex.auth.library.tables import ACCOUNTS, USERS


async def upsert_user_and_account(
    ctx: Any,
    config: AuthConfig,
    session_id: str | None,
    account: dict[str, Any],
    *,
    kind: str,
    provider: Provider,
    profile: dict[str, Any],
    should_link_via_email: bool = False,
    should_link_via_phone: bool = False,
) -> tuple[str, str]:
    """``(userId, accountId)``. ``account`` is ``{"existingAccount": doc}`` or
    ``{"providerAccountId": ..., "secret": hash-or-None}``."""
    existing = account.get("existingAccount")
    args = {
        "type": kind, "provider": provider, "profile": profile,
        "shouldLinkViaEmail": should_link_via_email, "shouldLinkViaPhone": should_link_via_phone,
    }
    user_id = await _create_or_update_user(ctx, config, existing, args)
    account_id = await _create_or_update_account(ctx, user_id, account, provider, profile)
    return user_id, account_id


async def _create_or_update_user(
    ctx: Any, config: AuthConfig, existing_account: dict[str, Any] | None, args: dict[str, Any]
) -> str:
    existing_user_id = existing_account["userId"] if existing_account is not None else None
    callbacks = config.callbacks
    if callbacks.create_or_update_user is not None:
        made = callbacks.create_or_update_user(ctx, {"existingUserId": existing_user_id, **args})
        result = await maybe_await(made)
        return str(result)
    provider: Provider = args["provider"]
    profile = dict(args["profile"])
    email_verified = profile.pop("emailVerified", None)
    phone_verified = profile.pop("phoneVerified", None)
    if email_verified is None:
        email_verified = provider.type in ("oauth", "oidc") and getattr(
            provider, "allow_dangerous_email_account_linking", True) is not False
    phone_verified = bool(phone_verified)
    link_email = bool(args["shouldLinkViaEmail"] or email_verified or provider.type == "email")
    link_phone = bool(args["shouldLinkViaPhone"] or phone_verified or provider.type == "phone")

    user_id = existing_user_id
    if user_id is None:
        by_email = (await _unique_verified(ctx, "email", profile["email"])
                    if isinstance(profile.get("email"), str) and link_email else None)
        by_phone = (await _unique_verified(ctx, "phone", profile["phone"])
                    if isinstance(profile.get("phone"), str) and link_phone else None)
        # Two different users vouched for: link neither.
        user_id = None if by_email is not None and by_phone is not None else by_email or by_phone
    linked_user_id = user_id
    data: dict[str, Any] = {}
    if email_verified:
        data["emailVerificationTime"] = ctx.now()
    if phone_verified:
        data["phoneVerificationTime"] = ctx.now()
    data.update(profile)
    if user_id is not None:
        if await ctx.db.get(user_id) is None:
            raise ValueError(
                f"Could not update user {user_id}: the user was deleted but their account was not."
            )
        await ctx.db.patch(user_id, data)
    else:
        user_id = await ctx.db.insert(USERS, data)
    if callbacks.after_user_created_or_updated is not None:
        await maybe_await(callbacks.after_user_created_or_updated(
            ctx, {"userId": user_id, "existingUserId": linked_user_id, **args}))
    return str(user_id)


async def _unique_verified(ctx: Any, field: str, value: str) -> str | None:
    """The one user with this verified email/phone; None if none or several."""
    stamp = "emailVerificationTime" if field == "email" else "phoneVerificationTime"
    users = [u for u in await ctx.db.query(USERS).with_index(field, lambda q: q.eq(field, value)).collect()
             if u.get(stamp) is not None]
    return users[0]["_id"] if len(users) == 1 else None


async def _create_or_update_account(
    ctx: Any, user_id: str, account: dict[str, Any], provider: Provider, profile: dict[str, Any]
) -> str:
    existing = account.get("existingAccount")
    if existing is not None:
        account_id = existing["_id"]
        if existing["userId"] != user_id:
            await ctx.db.patch(account_id, {"userId": user_id})
    else:
        fields: dict[str, Any] = {
            "userId": user_id, "provider": provider.id,
            "providerAccountId": account["providerAccountId"],
        }
        if account.get("secret") is not None:
            fields["secret"] = account["secret"]
        account_id = await ctx.db.insert(ACCOUNTS, fields)
    if profile.get("emailVerified"):
        await ctx.db.patch(account_id, {"emailVerified": profile["email"]})
    if profile.get("phoneVerified"):
        await ctx.db.patch(account_id, {"phoneVerified": profile["phone"]})
    return str(account_id)


async def account_by_provider_id(ctx: Any, provider_id: str, account_id: str) -> dict[str, Any] | None:
    doc: dict[str, Any] | None = await ctx.db.query(ACCOUNTS).with_index(
        "providerAndAccountId", lambda q: q.eq("provider", provider_id).eq("providerAccountId", account_id)
    ).unique()
    return doc
