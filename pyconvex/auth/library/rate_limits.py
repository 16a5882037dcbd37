"""Failed sign-in attempts, limited per account and per client address (``authRateLimits``).

Each limit is a bucket of attempts that refills evenly over an hour (Convex Auth's
scheme): a wrong password or code takes one out; with less than one left, attempts are
refused with an error naming the limit and when the next attempt is allowed.

* **Per account** (Convex Auth's limit, keyed as it keys it): the account id for a
  password, the email or phone for a code, ``"<provider>:<id>"`` for a name with no
  account, so guessing at unknown emails costs the same. A correct password empties
  the account's bucket record.
* **Per address** (beyond Convex Auth 0.0.95, which has none): keyed ``"ip:<address>"``,
  the client address of the request (``ctx.meta.get_request_metadata()["ip"]``), so one
  client trying one password against many accounts is stopped too. Every password
  attempt is charged before the password is checked (concurrent guesses each pay) and
  refunded when it was right, so only failures count. Calls without an address (the
  test harness, scheduled functions) have no per-address limit.

Everything here runs inside the ``auth:store`` mutation, so a check and its charge are
one transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pyconvex.auth.library.settings import AuthConfig
from pyconvex.auth.library.tables import RATE_LIMITS
from pyconvex.errors import ConvexError

HOUR_MS = 3_600_000
ADDRESS_PREFIX = "ip:"


@dataclass(frozen=True)
class Limit:
    identifier: str
    per_hour: int
    refused: str
    """What the error says was refused, before the limit and the wait."""


def account_limit(config: AuthConfig, identifier: str, *, code: bool = False) -> Limit:
    what = ("Too many failed attempts to verify a code for this address" if code
            else "Too many failed attempts to sign in to this account")
    return Limit(identifier, config.max_failed_attempts_per_hour, what)


async def address_limit(ctx: Any, config: AuthConfig) -> Limit | None:
    """The limit for the caller's address, or None (no address known, or turned off)."""
    per_hour = config.max_failed_attempts_per_ip_per_hour
    meta = getattr(ctx, "meta", None)
    if not per_hour or meta is None:
        return None
    ip = (await meta.get_request_metadata()).get("ip")
    if not ip:
        return None
    return Limit(f"{ADDRESS_PREFIX}{ip}", per_hour, f"Too many failed sign-in attempts from {ip}")


async def _state(ctx: Any, limit: Limit) -> tuple[dict[str, Any] | None, float]:
    """The limit's document and the attempts left now."""
    doc = await ctx.db.query(RATE_LIMITS).with_index(
        "identifier", lambda q: q.eq("identifier", limit.identifier)
    ).unique()
    if doc is None:
        return None, float(limit.per_hour)
    elapsed = ctx.now() - doc["lastAttemptTime"]
    return doc, min(float(limit.per_hour), doc["attemptsLeft"] + elapsed * limit.per_hour / HOUR_MS)


def _wait_text(ms: float) -> str:
    seconds = max(1, math.ceil(ms / 1000))
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


async def check(ctx: Any, limit: Limit | None) -> None:
    """Refuse (a ConvexError naming the limit and the wait) when no attempt is left."""
    if limit is None:
        return
    _, left = await _state(ctx, limit)
    if left >= 1:
        return
    wait_ms = (1 - left) * HOUR_MS / limit.per_hour
    raise ConvexError(f"{limit.refused} ({limit.per_hour} an hour are allowed); "
                      f"try again in {_wait_text(wait_ms)}.")


async def charge(ctx: Any, limit: Limit | None) -> None:
    """Take one attempt out of the bucket."""
    if limit is None:
        return
    doc, left = await _state(ctx, limit)
    fields = {"attemptsLeft": left - 1, "lastAttemptTime": ctx.now()}
    if doc is None:
        await ctx.db.insert(RATE_LIMITS, {"identifier": limit.identifier, **fields})
    else:
        await ctx.db.patch(doc["_id"], fields)


async def refund(ctx: Any, limit: Limit | None) -> None:
    """Give back an attempt charged in advance that turned out right; a full bucket's
    record goes (as after a reset), so the table holds only addresses that failed."""
    if limit is None:
        return
    doc, left = await _state(ctx, limit)
    if doc is None:
        return
    if left + 1 >= limit.per_hour:
        await ctx.db.delete(doc["_id"])
    else:
        await ctx.db.patch(doc["_id"], {"attemptsLeft": left + 1, "lastAttemptTime": ctx.now()})


async def reset(ctx: Any, identifier: str) -> None:
    doc = await ctx.db.query(RATE_LIMITS).with_index(
        "identifier", lambda q: q.eq("identifier", identifier)
    ).unique()
    if doc is not None:
        await ctx.db.delete(doc["_id"])


async def check_and_charge(ctx: Any, config: AuthConfig, account: str) -> None:
    """A password about to be checked: refuse if the address or the account is out of
    attempts, else charge both (refunded by :func:`succeeded` if it was right)."""
    address = await address_limit(ctx, config)
    per_account = account_limit(config, account)
    await check(ctx, address)
    await check(ctx, per_account)
    await charge(ctx, address)
    await charge(ctx, per_account)


async def succeeded(ctx: Any, config: AuthConfig, account: str) -> None:
    """The password was right: the account's failures are forgotten, the address's
    advance charge given back."""
    await reset(ctx, account)
    await refund(ctx, await address_limit(ctx, config))
