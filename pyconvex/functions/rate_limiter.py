"""A transactional rate limiter (``@convex-dev/rate-limiter``'s semantics).

>>> limiter = RateLimiter({
...     "send": {"kind": "token bucket", "rate": 10, "period": MINUTE, "capacity": 3},
...     "signup": {"kind": "fixed window", "rate": 100, "period": HOUR},
... })
>>> await limiter.limit(ctx, "send", key=user_id, throws=True)

Contract.

- State lives in an ordinary table (``rateLimits``; add ``**rate_limit_tables`` to the
  schema) and is read and written through the caller's ``ctx.db``, in the caller's
  transaction: a mutation that is refused or fails after ``limit`` consumed nothing,
  and concurrent callers are serialised by OCC, so a limit never admits more than
  its tokens. Rules and triggers around ``ctx.db`` do not apply to this table.
- Token bucket: ``rate`` tokens per ``period`` ms accrue continuously up to
  ``capacity`` (default ``rate``). Fixed window: ``rate`` tokens are added at the
  start of each window of ``period`` ms (windows start at ``start``, default a random
  offset per key), up to ``capacity``. A call consumes ``count`` tokens (default 1).
- ``limit`` consumes or refuses; ``check`` answers the same without consuming;
  a refusal carries ``retry_after`` (ms until it would succeed). With
  ``throws=True`` a refusal is a :class:`RateLimitError`, a ``ConvexError`` whose data
  ``{"kind": "RateLimited", "name", "retryAfter"}`` reaches clients. ``reserve=True``
  takes tokens ahead (up to ``max_reserved``) and answers when to go ahead.
- ``shards=n`` spreads one limit over ``n`` documents (each with ``1/n`` of the rate
  and capacity) so that concurrent callers rarely touch the same document. A call
  takes from one shard (``limit``: the next in turn for the process; ``check``: a
  random one); when that shard is short (and there are three or more), from a second
  one, or from both together, as the component does.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pyconvex.errors import ConvexError, InvalidQueryError
from pyconvex.functions.rate_limit_config import (
    DAY,
    HOUR,
    MINUTE,
    SECOND,
    RateLimitConfig,
    State,
    calculate,
    parse_config,
)
from pyconvex.functions.wrapped_db import unwrap_db
from pyconvex.schema import define_table, v
from pyconvex.values import Document

__all__ = [
    "DAY",
    "HOUR",
    "MINUTE",
    "RATE_LIMIT_TABLE",
    "SECOND",
    "RateLimitConfig",
    "RateLimitError",
    "RateLimitResult",
    "RateLimitValue",
    "RateLimiter",
    "rate_limit_tables",
]

RATE_LIMIT_TABLE = "rateLimits"
RATE_LIMIT_INDEX = "by_name_key_shard"
_MAX_KNOWN_IDS = 4096
_MIN_CHOOSE_TWO = 3  # with two shards, checking both would read every shard anyway

rate_limit_tables = {
    RATE_LIMIT_TABLE: define_table({
        "name": v.string(),
        "key": v.union(v.string(), v.null()),
        "shard": v.float64(),
        "value": v.float64(),
        "ts": v.float64(),
    }).index(RATE_LIMIT_INDEX, ["name", "key", "shard"]),
}
"""The table the limiter keeps its state in: ``define_schema({**rate_limit_tables, ...})``."""


@dataclass(frozen=True, slots=True)
class RateLimitResult:
    """``ok``: admitted. ``retry_after``: ms until a refused call would pass (or, for
    an admitted reservation, until the reserved tokens are due); None otherwise."""

    ok: bool
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class RateLimitValue:
    """Tokens available now (over all shards, or estimated from ``sample_shards``)."""

    value: float
    ts: float
    window_start: float | None
    config: dict[str, Any]


class RateLimitError(ConvexError):
    """A refused ``limit``/``check`` with ``throws=True``; clients read its data
    ``{"kind": "RateLimited", "name": name, "retryAfter": ms}``."""

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__({"kind": "RateLimited", "name": name, "retryAfter": retry_after})
        self.name = name
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors may be copied or sent between processes: rebuild from the two fields.
        return (RateLimitError, (self.name, self.retry_after))


@dataclass(slots=True)
class _Shard:
    shard: int
    existing: Document | None
    ok: bool
    retry_after: float | None
    state: State


class RateLimiter:
    """Named limits over one table; see the module docstring.

    ``limits`` maps a name to its config (``{"kind": "token bucket" | "fixed window",
    "rate", "period", "capacity"?, "max_reserved"?, "shards"?, "start"?}``). A call may
    instead pass ``config=`` for a limit not named here.
    """

    def __init__(self, limits: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        if limits is not None and not isinstance(limits, Mapping):
            raise TypeError(f"RateLimiter() takes a dict of named limits, got {limits!r}")
        self.limits: dict[str, RateLimitConfig] = {
            name: parse_config(config, name) for name, config in (limits or {}).items()
        }
        # (name, key, shard) -> the id of its state document, as last read (a hint: a
        # stale or foreign one is checked and the index read instead).
        self._ids: dict[tuple[str, str | None, int], str] = {}

    # ------------------------------------------------------------------- public
    async def limit(
        self,
        ctx: Any,
        name: str,
        *,
        key: str | None = None,
        count: float = 1,
        reserve: bool = False,
        throws: bool = False,
        config: Mapping[str, Any] | None = None,
    ) -> RateLimitResult:
        """Consume ``count`` tokens of ``name`` (per ``key``) or refuse; needs a mutation."""
        db = unwrap_db(ctx.db)
        if not callable(getattr(db, "insert", None)):
            raise InvalidQueryError(
                f"RateLimiter.limit('{name}') consumes tokens, so it needs a mutation's ctx; "
                "in a query use check(), in an action call a mutation that calls limit()",
                short_msg="RateLimitNeedsMutation",
            )
        result, updates = await self._evaluate(
            ctx, db, name, key, count, reserve, config, _next_shard
        )
        for shard in updates:
            fields = {"value": shard.state.value, "ts": shard.state.ts}
            if shard.existing is not None:
                await db.patch(shard.existing["_id"], fields)
            else:
                await db.insert(
                    RATE_LIMIT_TABLE, {"name": name, "key": key, "shard": float(shard.shard), **fields}
                )
        return self._answer(name, result, throws)

    async def check(
        self,
        ctx: Any,
        name: str,
        *,
        key: str | None = None,
        count: float = 1,
        reserve: bool = False,
        throws: bool = False,
        config: Mapping[str, Any] | None = None,
    ) -> RateLimitResult:
        """What ``limit`` would answer now, consuming nothing (works in queries)."""
        db = unwrap_db(ctx.db)
        # A query must be a function of its snapshot and arguments (its result is
        # cached and shared): the shard comes from the execution's seeded ``random``.
        result, _ = await self._evaluate(
            ctx, db, name, key, count, reserve, config, random.randrange
        )
        return self._answer(name, result, throws)

    async def reset(self, ctx: Any, name: str, *, key: str | None = None) -> None:
        """Forget the state of ``name`` for ``key``: it starts full again."""
        db = unwrap_db(ctx.db)
        for doc in await self._read(db, lambda q: q.eq("name", name).eq("key", key), "collect"):
            await db.delete(doc["_id"])

    async def get_value(
        self,
        ctx: Any,
        name: str,
        *,
        key: str | None = None,
        sample_shards: int | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> RateLimitValue:
        """Tokens available now, for display (``"You can send 2 more"``). Reads every
        shard, or ``sample_shards`` random ones and scales their sum up."""
        cfg = self._config(name, config)
        db = unwrap_db(ctx.db)
        shards = list(range(cfg.shards))
        if sample_shards is not None and sample_shards < cfg.shards:
            shards = random.sample(shards, max(1, int(sample_shards)))
        now = float(ctx.now())
        total = 0.0
        ts = now
        window_start: float | None = None
        for shard in shards:
            existing = await self._shard(db, name, key, shard)
            state, _ = calculate(_state_of(existing), cfg.per_shard, now, 0)
            total += state.value
            ts = state.ts
            if cfg.kind == "fixed window":
                window_start = state.ts
        return RateLimitValue(total * cfg.shards / len(shards), ts, window_start, cfg.as_dict())

    # ------------------------------------------------------------------ internals
    def _config(self, name: str, config: Mapping[str, Any] | None) -> RateLimitConfig:
        if not isinstance(name, str):
            raise TypeError(f"a rate limit name is a string, got {name!r}")
        if config is not None:
            return parse_config(config, name)
        found = self.limits.get(name)
        if found is None:
            raise ValueError(
                f"RateLimiter: no limit named '{name}' (known: "
                f"{', '.join(sorted(self.limits)) or 'none'}); define it in "
                "RateLimiter({...}) or pass config="
            )
        return found

    @staticmethod
    async def _read(db: Any, range_fn: Any, terminal: str) -> Any:
        query = db.query(RATE_LIMIT_TABLE)
        try:
            return await getattr(query.with_index(RATE_LIMIT_INDEX, range_fn), terminal)()
        except InvalidQueryError as e:
            if RATE_LIMIT_INDEX not in e.message and RATE_LIMIT_TABLE not in e.message:
                raise
            raise InvalidQueryError(
                f"RateLimiter keeps its state in the '{RATE_LIMIT_TABLE}' table with the index "
                f"'{RATE_LIMIT_INDEX}': add **rate_limit_tables (from pyconvex.ratelimit) to "
                f"your define_schema({{...}}). ({e.message})",
                short_msg="RateLimitTableMissing",
            ) from None

    async def _shard(self, db: Any, name: str, key: str | None, shard: int) -> Document | None:
        where = (name, key, shard)
        known = self._ids.get(where)
        if known is not None and db.normalize_id(RATE_LIMIT_TABLE, known) is not None:
            # The shard's document, found by an earlier call: a read by id costs a third
            # of the index query, and reads as much (a shard's document keeps its name,
            # key and shard for life; if ``reset`` deleted it, ``get`` reads the delete).
            doc: Document | None = await db.get(known)
            if doc is not None and (doc["name"], doc["key"], doc["shard"]) == where:
                return doc
        # first(), not unique(): unique() reads on to the next shard's entry, and would
        # conflict with every write to that neighbour too.
        doc = await self._read(
            db, lambda q: q.eq("name", name).eq("key", key).eq("shard", float(shard)), "first"
        )
        if doc is None:
            self._ids.pop(where, None)
        else:
            if len(self._ids) >= _MAX_KNOWN_IDS:
                self._ids.clear()
            self._ids[where] = str(doc["_id"])
        return doc

    async def _check_shard(
        self, db: Any, name: str, key: str | None, shard: int, cfg: RateLimitConfig,
        count: float, reserve: bool, now: float,
    ) -> _Shard:
        existing = await self._shard(db, name, key, shard)
        state, retry_after = calculate(_state_of(existing), cfg.per_shard, now, count)
        ok = _admits(state.value, reserve, cfg.per_shard.max_reserved)
        return _Shard(shard, existing, ok, retry_after, state)

    async def _evaluate(
        self, ctx: Any, db: Any, name: str, key: str | None, count: float, reserve: bool,
        config: Mapping[str, Any] | None, pick: Callable[[int], int],
    ) -> tuple[RateLimitResult, list[_Shard]]:
        cfg = self._config(name, config)
        if key is not None and not isinstance(key, str):
            raise TypeError(f"a rate limit key is a string (or None), got {key!r}")
        if isinstance(count, bool) or not isinstance(count, (int, float)) or count < 0:
            raise ValueError(f"RateLimiter: count must be a non-negative number, got {count!r}")
        cfg.check_count(name, count, reserve)
        now = float(ctx.now())
        shards = cfg.shards
        one = await self._check_shard(db, name, key, pick(shards), cfg, count, reserve, now)
        if one.ok or shards < _MIN_CHOOSE_TWO:
            # One shard read in the common case: fewer reads, fewer OCC conflicts.
            return _single(one)
        other = pick(shards)
        if other == one.shard:
            other = (other + 1) % shards
        two = await self._check_shard(db, name, key, other, cfg, count, reserve, now)
        if two.ok:
            return _single(two)
        # Neither alone has enough: take the count from both, leaving them level.
        balance = one.state.value + two.state.value + count
        parts = []
        for shard in (one, two):
            share = shard.state.value + count - balance / 2
            state, retry_after = calculate(_state_of(shard.existing), cfg.per_shard, now, share)
            ok = _admits(state.value, reserve, cfg.per_shard.max_reserved)
            parts.append(_Shard(shard.shard, shard.existing, ok, retry_after, state))
        if not all(p.ok for p in parts):
            retry = max(p.retry_after or 0.0 for p in parts)
            return RateLimitResult(False, retry), []
        waits = [p.retry_after for p in parts if p.retry_after]
        return RateLimitResult(True, max(waits) if waits else None), parts

    @staticmethod
    def _answer(name: str, result: RateLimitResult, throws: bool) -> RateLimitResult:
        if not result.ok and throws:
            raise RateLimitError(name, result.retry_after or 0.0)
        return result


_turn = itertools.count(random.SystemRandom().randrange(1 << 30))


def _next_shard(shards: int) -> int:
    """The shard ``limit`` takes from: the next in turn for this process. Concurrent
    callers in one process then take different shards while fewer are in flight than
    there are shards (random choices collide: with 16 callers on 64 shards about one
    call in five lost its optimistic race and ran again), and consumption is spread
    evenly, so no shard runs dry while others hold tokens. Processes start at random
    points of the cycle. Which shard a call takes is not part of any answer: every
    shard holds ``1/shards`` of the limit, and a mutation need not choose the same one
    when it runs again after a conflict."""
    return next(_turn) % shards


def _state_of(doc: Document | None) -> State | None:
    if doc is None:
        return None
    return State(float(doc["value"]), float(doc["ts"]))  # type: ignore[arg-type]


def _admits(value: float, reserve: bool, max_reserved: float | None) -> bool:
    if value >= 0:
        return True
    return reserve and (max_reserved is None or -value <= max_reserved)


def _single(shard: _Shard) -> tuple[RateLimitResult, list[_Shard]]:
    result = RateLimitResult(shard.ok, shard.retry_after)
    return result, [shard] if shard.ok else []

