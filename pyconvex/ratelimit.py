"""A transactional rate limiter (``@convex-dev/rate-limiter``'s semantics).

>>> from pyconvex.ratelimit import RateLimiter, MINUTE, rate_limit_tables
>>> limiter = RateLimiter({"send": {"kind": "token bucket", "rate": 10, "period": MINUTE,
...                                 "capacity": 3}})
>>> await limiter.limit(ctx, "send", key=user_id, throws=True)

The schema needs ``define_schema({**rate_limit_tables, ...})``. See ``docs/security.md``.

Public names (``__all__``): ``RateLimiter``, its answers ``RateLimitResult`` and
``RateLimitValue``, the refusal ``RateLimitError`` (a ``ConvexError``),
``RateLimitConfig``, ``rate_limit_tables`` and ``RATE_LIMIT_TABLE``, and the units
``SECOND``, ``MINUTE``, ``HOUR``, ``DAY`` (milliseconds).
"""

from __future__ import annotations

from pyconvex.functions.rate_limit_config import RateLimitConfig
from pyconvex.functions.rate_limiter import (
    DAY,
    HOUR,
    MINUTE,
    RATE_LIMIT_TABLE,
    SECOND,
    RateLimiter,
    RateLimitError,
    RateLimitResult,
    RateLimitValue,
    rate_limit_tables,
)

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
