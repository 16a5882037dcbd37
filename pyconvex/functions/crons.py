"""``convex/crons.py``: ``crons = Crons()`` and its jobs, as Convex spells them in Python.

>>> crons = Crons()
>>> crons.interval("clear presence", internal.presence.clear, minutes=5)
>>> crons.cron("hourly digest", "0 * * * *", internal.digest.send)
>>> crons.daily("report", internal.reports.make, {"kind": "daily"}, hour_utc=17, minute_utc=30)

Definitions only: the scheduler registers them when the code loads and runs each due
job by scheduling its function, once per due time, even across restarts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from croniter import croniter

from pyconvex.functions.api import function_path
from pyconvex.functions.registry import canonicalize_path

DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")


@dataclass(frozen=True)
class CronJob:
    name: str
    path: str
    args: dict[str, Any]
    cron: str | None = None
    """A 5-field cron expression (UTC), or None for an interval job."""
    interval_ms: float | None = None

    def spec(self) -> dict[str, Any]:
        return {"cron": self.cron} if self.cron is not None else {"intervalMs": self.interval_ms}


@dataclass
class Crons:
    jobs: dict[str, CronJob] = field(default_factory=dict)

    def _add(self, name: str, ref: Any, args: dict[str, Any] | None, **spec: Any) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("crons: a job needs a non-empty name")
        if name in self.jobs:
            raise ValueError(f"crons: two jobs are named {name!r}")
        if args is not None and not isinstance(args, dict):
            raise TypeError(f"crons: args of {name!r} must be a dict")
        self.jobs[name] = CronJob(name, canonicalize_path(function_path(ref)), dict(args or {}), **spec)

    def interval(
        self, name: str, ref: Any, args: dict[str, Any] | None = None, *,
        seconds: float = 0, minutes: float = 0, hours: float = 0,
    ) -> None:
        """Every ``seconds + minutes + hours`` (at least one second), from registration on."""
        ms = (seconds + 60 * minutes + 3600 * hours) * 1000
        if ms < 1000:
            raise ValueError(f"crons.interval {name!r}: the interval must be at least 1 second")
        self._add(name, ref, args, interval_ms=float(ms))

    def cron(self, name: str, expression: str, ref: Any, args: dict[str, Any] | None = None) -> None:
        """A 5-field cron expression in UTC: minute hour day-of-month month day-of-week."""
        fields = expression.split() if isinstance(expression, str) else []
        if len(fields) != 5 or not croniter.is_valid(expression):
            raise ValueError(f"crons.cron {name!r}: {expression!r} is not a 5-field cron expression")
        self._add(name, ref, args, cron=expression)

    def hourly(self, name: str, ref: Any, args: dict[str, Any] | None = None, *, minute_utc: int = 0) -> None:
        self.cron(name, f"{_check(minute_utc, 0, 59, 'minute_utc')} * * * *", ref, args)

    def daily(
        self, name: str, ref: Any, args: dict[str, Any] | None = None, *,
        hour_utc: int = 0, minute_utc: int = 0,
    ) -> None:
        at = f"{_check(minute_utc, 0, 59, 'minute_utc')} {_check(hour_utc, 0, 23, 'hour_utc')}"
        self.cron(name, f"{at} * * *", ref, args)

    def weekly(
        self, name: str, ref: Any, args: dict[str, Any] | None = None, *,
        day_of_week: str = "monday", hour_utc: int = 0, minute_utc: int = 0,
    ) -> None:
        if day_of_week not in DAYS:
            raise ValueError(f"crons.weekly {name!r}: day_of_week must be one of {', '.join(DAYS)}")
        at = f"{_check(minute_utc, 0, 59, 'minute_utc')} {_check(hour_utc, 0, 23, 'hour_utc')}"
        self.cron(name, f"{at} * * {DAYS.index(day_of_week)}", ref, args)

    def monthly(
        self, name: str, ref: Any, args: dict[str, Any] | None = None, *,
        day: int = 1, hour_utc: int = 0, minute_utc: int = 0,
    ) -> None:
        at = f"{_check(minute_utc, 0, 59, 'minute_utc')} {_check(hour_utc, 0, 23, 'hour_utc')}"
        self.cron(name, f"{at} {_check(day, 1, 31, 'day')} * *", ref, args)


def _check(value: int, lo: int, hi: int, what: str) -> int:
    if not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"crons: {what} must be an integer {lo}..{hi}, got {value!r}")
    return value


def next_run(job: CronJob, after_ms: float, previous_ms: float | None = None) -> float:
    """The first due time strictly after ``after_ms`` (missed runs are skipped)."""
    if job.interval_ms is not None:
        if previous_ms is None:
            return after_ms + job.interval_ms
        steps = max(1, int((after_ms - previous_ms) // job.interval_ms) + 1)
        return previous_ms + steps * job.interval_ms
    assert job.cron is not None
    return float(croniter(job.cron, after_ms / 1000).get_next(float)) * 1000
