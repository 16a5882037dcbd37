"""Account helpers for providers' ``authorize`` functions (they run in ``auth:signIn``).

``create_account``, ``retrieve_account``, ``modify_account_credentials``,
``invalidate_sessions`` and ``sign_in_via_provider`` are Convex Auth's helpers of the same
names. Each takes the ``ctx`` that ``authorize(params, ctx)`` was given and makes one
``auth:store`` mutation call, so it works wherever the action runs. Secrets are hashed
and checked here, in the action, with the provider's :class:`~.providers.Crypto`
(argon2id by default), and never inside a transaction.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import unicodedata
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from pyconvex.auth.library.providers import ConvexCredentials, Crypto, Provider, maybe_await
from pyconvex.auth.library.settings import AuthConfig
from pyconvex.errors import ConvexError

STORE = "auth:store"
INVALID_CREDENTIALS = "Invalid credentials"

#: OWASP's password storage recommendation for argon2id: 19 MiB, 2 passes, 1 lane.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


@functools.cache
def _dummy_hash() -> str:
    """A hash of nothing anyone knows, checked when an account does not exist so that an
    unknown email costs the same time as a wrong password."""
    return _HASHER.hash("pyconvex.auth: no such account")


def _verify_argon2(secret: str, hashed: str) -> bool:
    if hashed.startswith("$argon2"):
        try:
            return _HASHER.verify(hashed, secret)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
    return _verify_lucia_scrypt(secret, hashed)


def _verify_lucia_scrypt(secret: str, hashed: str) -> bool:
    """Convex Auth's own format (``<hex salt>:<hex key>``, scrypt N=2^14 r=16 p=1), so
    accounts imported from a Convex snapshot keep their passwords; they are rehashed
    with argon2id at their next sign-in."""
    salt, sep, key = hashed.partition(":")
    if not sep or not salt or not key:
        return False
    try:
        expected = bytes.fromhex(key)
    except ValueError:
        return False
    derived = hashlib.scrypt(unicodedata.normalize("NFKC", secret).encode(), salt=salt.encode(),
                             n=16384, r=16, p=1, dklen=64, maxmem=64 * 1024 * 1024)
    return hmac.compare_digest(derived, expected)


async def argon2_hash(secret: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, secret)


async def argon2_verify(secret: str, hashed: str) -> bool:
    return await asyncio.to_thread(_verify_argon2, secret, hashed)


def needs_rehash(hashed: str) -> bool:
    return not hashed.startswith("$argon2") or _HASHER.check_needs_rehash(hashed)


#: The default :class:`Crypto` of :class:`~pyconvex.auth.Password`.
ARGON2ID = Crypto(hash_secret=argon2_hash, verify_secret=argon2_verify)


class AuthActionCtx:
    """The ``auth:signIn`` action's ``ctx`` with the auth configuration attached
    (Convex Auth's ``ctx.auth.config``); everything else is the action's own ``ctx``."""

    def __init__(self, ctx: Any, config: AuthConfig) -> None:
        self._ctx = ctx
        self.auth_config = config

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)


def _config(ctx: Any) -> AuthConfig:
    config = getattr(ctx, "auth_config", None)
    if not isinstance(config, AuthConfig):
        raise TypeError("Call this with the ctx a provider's authorize(params, ctx) was given.")
    return config


def _crypto(provider: Provider) -> Crypto:
    if not isinstance(provider, ConvexCredentials):
        raise ConvexError(f"Provider {provider.id} is not a credentials provider")
    if provider.crypto is None:
        raise ConvexError(f"Provider {provider.id} has no crypto (hash_secret / verify_secret)")
    return provider.crypto


async def _store(ctx: Any, step: str, **fields: Any) -> Any:
    return await ctx.run_mutation(STORE, {"args": {"type": step, **fields}})


async def create_account(
    ctx: Any, *, provider: str, account: dict[str, Any], profile: dict[str, Any],
    should_link_via_email: bool = False, should_link_via_phone: bool = False,
) -> dict[str, Any]:
    """Create the account ``account["id"]`` (with ``account["secret"]`` hashed) and its user.

    If the account exists already and the secret matches, it is returned; if it does
    not match, a ConvexError says the account exists. Returns ``{"account", "user"}``.
    """
    secret = account.get("secret")
    hashed = None
    if secret is not None:
        hashed = await maybe_await(_crypto(_config(ctx).provider(provider)).hash_secret(secret))
    result = await _store(ctx, "createAccountFromCredentials", provider=provider,
                          account={"id": account["id"], **({"secret": hashed} if hashed else {})},
                          profile=profile, shouldLinkViaEmail=should_link_via_email,
                          shouldLinkViaPhone=should_link_via_phone, checkSecret=secret is not None)
    if result["existed"] and secret is not None:
        # Rate-limited like a sign-in (charged in the store step): else signing up again
        # would be an unlimited way to test passwords.
        stored = result["account"].get("secret") or ""
        crypto = _crypto(_config(ctx).provider(provider))
        if not await maybe_await(crypto.verify_secret(secret, stored)):
            raise ConvexError(f"Account {account['id']} already exists")
        await _store(ctx, "resetSignInRateLimit", identifier=result["account"]["_id"])
    return {"account": result["account"], "user": result["user"]}


async def retrieve_account(ctx: Any, *, provider: str, account: dict[str, Any]) -> dict[str, Any]:
    """The account ``account["id"]`` and its user; with ``account["secret"]``, only if it matches.

    An unknown account and a wrong secret raise the same ConvexError ("Invalid
    credentials") after the same work; repeated failures raise "Too many failed
    attempts ...", naming the limit and the wait, until the allowance of the account
    (10 an hour by default) or of the client's address (100) refills.
    """
    secret = account.get("secret")
    result = await _store(ctx, "retrieveAccountWithCredentials", provider=provider,
                          account={"id": account["id"]}, checkSecret=secret is not None)
    if secret is None:
        if isinstance(result, str):
            raise ConvexError(INVALID_CREDENTIALS)
        return dict(result)
    crypto = _crypto(_config(ctx).provider(provider))
    if isinstance(result, str):
        await maybe_await(crypto.verify_secret(secret, _dummy_hash()))
        raise ConvexError(INVALID_CREDENTIALS)
    stored = result["account"].get("secret") or ""
    if not await maybe_await(crypto.verify_secret(secret, stored)):
        raise ConvexError(INVALID_CREDENTIALS)
    await _store(ctx, "resetSignInRateLimit", identifier=result["account"]["_id"])
    if crypto is ARGON2ID and needs_rehash(stored):
        await modify_account_credentials(ctx, provider=provider,
                                         account={"id": account["id"], "secret": secret})
    return dict(result)


async def modify_account_credentials(ctx: Any, *, provider: str, account: dict[str, Any]) -> None:
    """Store a new secret (hashed) for the account ``account["id"]``."""
    hashed = await maybe_await(_crypto(_config(ctx).provider(provider)).hash_secret(account["secret"]))
    await _store(ctx, "modifyAccount", provider=provider, account={"id": account["id"], "secret": hashed})


async def invalidate_sessions(ctx: Any, *, user_id: str, except_: list[str] | None = None) -> None:
    """End every session of ``user_id`` but those in ``except_``."""
    await _store(ctx, "invalidateSessions", userId=user_id, **({"except": except_} if except_ else {}))


async def sign_in_via_provider(
    ctx: Any, provider: Provider, *, account_id: str | None = None, params: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Run another provider's sign-in (an email code for verification or reset) for the
    account; ``{"userId", "sessionId"}`` once signed in, None while a code is on its way."""
    from pyconvex.auth.library.sign_in import sign_in_impl

    result = await sign_in_impl(ctx, _config(ctx), provider, {
        **({"accountId": account_id} if account_id else {}), "params": params or {},
    }, generate_tokens=False, allow_extra=True)
    if result.get("kind") == "signedIn" and result.get("signedIn") is not None:
        signed = result["signedIn"]
        return {"userId": signed["userId"], "sessionId": signed["sessionId"]}
    return None
