"""Rate limit configs and the arithmetic of one bucket (token bucket, fixed window).

Pure functions of (state, config, now, count): the transactional part lives in
``rate_limiter.py``. Times are ms; ``now`` is the caller's ``ctx.now()``, so a limit
is deterministic under a transaction's fixed time and the test harness's clock.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

SECOND = 1000.0
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

Kind = Literal["token bucket", "fixed window"]
_KEYS = {"kind", "rate", "period", "capacity", "max_reserved", "shards", "start"}


@dataclass(frozen=True, slots=True)
class State:
    """Tokens left (negative: reserved ahead) as of ``ts`` (for a fixed window: the
    start of the window the value belongs to)."""

    value: float
    ts: float


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    kind: Kind
    rate: float
    period: float
    capacity: float
    max_reserved: float | None = None
    shards: int = 1
    start: float | None = None

    @property
    def per_shard(self) -> RateLimitConfig:
        """The config of one shard: ``1/shards`` of the rate, capacity and reserve."""
        return self if self.shards == 1 else _per_shard(self)

    def check_count(self, name: str, count: float, reserve: bool) -> None:
        """Refuse a count no state could ever admit (a bug, not a rate limit)."""
        factor = 1 if self.shards < 3 else self.shards / 2
        most = self.capacity / factor
        if reserve:
            if self.max_reserved is not None and count > most + self.max_reserved / factor:
                raise ValueError(
                    f"Rate limit '{name}': count {count:g} exceeds the capacity plus "
                    f"max_reserved ({most + self.max_reserved / factor:g})"
                    + (f" per {self.shards} shards" if self.shards > 1 else "")
                )
        elif count > most:
            raise ValueError(
                f"Rate limit '{name}': count {count:g} exceeds the capacity {most:g}"
                + (f" per {self.shards} shards" if self.shards > 1 else "")
            )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "rate": self.rate, "period": self.period,
                               "capacity": self.capacity, "shards": self.shards}
        if self.max_reserved is not None:
            out["max_reserved"] = self.max_reserved
        if self.start is not None:
            out["start"] = self.start
        return out


@functools.lru_cache(maxsize=256)
def _per_shard(config: RateLimitConfig) -> RateLimitConfig:
    # Asked on every call of a sharded limit; a dataclass copy each time was a tenth
    # of the limiter's own cost.
    n = config.shards
    return replace(
        config, rate=config.rate / n, capacity=config.capacity / n,
        max_reserved=None if config.max_reserved is None else config.max_reserved / n,
    )


def _number(config: Mapping[str, Any], field: str, name: str, *, positive: bool) -> float:
    value = config[field]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"rate limit '{name}': {field} must be a number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ValueError(
            f"rate limit '{name}': {field} must be {'positive' if positive else '>= 0'}, "
            f"got {value!r}"
        )
    return float(value)


def parse_config(config: Any, name: str) -> RateLimitConfig:
    """A checked :class:`RateLimitConfig` from the user's dict (errors name the field)."""
    if isinstance(config, RateLimitConfig):
        return config
    if not isinstance(config, Mapping):
        raise TypeError(f"rate limit '{name}': the config must be a dict, got {config!r}")
    unknown = set(config) - _KEYS
    if unknown:
        raise ValueError(
            f"rate limit '{name}': unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
            f"the keys are {', '.join(sorted(_KEYS))}"
        )
    kind = config.get("kind")
    if kind not in ("token bucket", "fixed window"):
        raise ValueError(
            f"rate limit '{name}': kind must be 'token bucket' or 'fixed window', got {kind!r}"
        )
    for required in ("rate", "period"):
        if required not in config:
            raise ValueError(f"rate limit '{name}': {required} is required")
    rate = _number(config, "rate", name, positive=True)
    period = _number(config, "period", name, positive=True)
    capacity = _number(config, "capacity", name, positive=True) if "capacity" in config else rate
    max_reserved = (
        _number(config, "max_reserved", name, positive=False)
        if config.get("max_reserved") is not None else None
    )
    shards = config.get("shards", 1)
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise ValueError(f"rate limit '{name}': shards must be a positive int, got {shards!r}")
    start = None
    if config.get("start") is not None:
        if kind != "fixed window":
            raise ValueError(f"rate limit '{name}': start applies to a fixed window only")
        start = _number(config, "start", name, positive=False)
    return RateLimitConfig(kind, rate, period, capacity, max_reserved, shards, start)


def calculate(
    existing: State | None, config: RateLimitConfig, now: float, count: float
) -> tuple[State, float | None]:
    """The state after taking ``count`` tokens at ``now``, and the retry-after (ms) when
    that leaves the value negative. A missing state starts full."""
    if existing is None:
        ts = now
        if config.kind == "fixed window":
            ts = config.start if config.start is not None else math.floor(random.random() * config.period)
        existing = State(config.capacity, ts)
    if config.kind == "token bucket":
        per_ms = config.rate / config.period
        value = min(existing.value + (now - existing.ts) * per_ms, config.capacity) - count
        retry = -value / per_ms if value < 0 else None
        return State(value, now), retry
    windows = max(0, math.floor((now - existing.ts) / config.period))
    value = min(existing.value + config.rate * windows, config.capacity) - count
    ts = existing.ts + windows * config.period
    retry = None
    if value < 0:
        retry = ts + config.period * math.ceil(-value / config.rate) - now
    return State(value, ts), retry
