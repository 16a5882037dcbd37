"""``/metrics``: the deployment in Prometheus' text format, and ``/health``/``/ready``.

Counters that move with every call (executions, durations, commit latency) are plain
counters fed as things happen (a runner listener and a database commit observer, each a
few additions: ``prometheus_client``'s ``Counter`` and ``Histogram`` took a lock per
number and cost about 2.5 µs per mutation) and become Prometheus' families, with the
same names, labels and samples, when scraped. Everything else (queue depth, live
subscriptions, sessions, workers, scheduler lag, sizes) is read when Prometheus
scrapes, so an idle deployment pays nothing for it.

Each app has its own registry (a process may serve several deployments: tests,
``pyconvex dev``), never the process-global default one.

``/metrics`` needs the admin key (``Authorization: Convex <key>``, which Prometheus
sends with ``authorization: {type: Convex, credentials: <key>}``) unless the server
runs with ``--public-metrics``: function paths and load are not for everyone.
``/health`` says the process answers; ``/ready`` says it can serve: the database
answers a read, the committer runs, and the functions are loaded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from itertools import repeat
from operator import attrgetter, truediv
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from starlette.requests import Request
from starlette.responses import Response

from pyconvex.database import Query
from pyconvex.database.catalog import SCHEDULED_FUNCTIONS_TABLE
from pyconvex.errors import AuthError, PyConvexError
from pyconvex.functions import ExecutionRecord
from pyconvex.functions.runtime.journal import Journal, JournalObserver
from pyconvex.server.errors import request_error
from pyconvex.server.insights import Insights, groups
from pyconvex.sync.latency import Histogram

if TYPE_CHECKING:
    from pyconvex.server.state import ServerState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0)
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
READY_TIMEOUT_S = 5.0
_path_and_kind = attrgetter("path", "kind")
_error = attrgetter("error")
_duration_ms = attrgetter("duration_ms")


class Metrics(JournalObserver):
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.registry = CollectorRegistry(auto_describe=True)
        self.calls = _Calls()
        self.registry.register(self.calls)
        self.sampled = _Sampled(state)
        self.registry.register(self.sampled)
        self.insights = Insights()
        """The last hour per minute, for the dashboard (fed by ``on_executions``)."""
        self._journal = None

    def attach(self, journal: Journal) -> None:
        """Take a runner's executions from its journal in batches, and have every read
        (``render``, the dashboard's insights) take what is pending first."""
        super().attach(journal)
        self.insights.pending = journal.flush

    def detach(self) -> None:
        super().detach()
        self.insights.pending = None

    def on_executions(self, records: list[ExecutionRecord]) -> None:
        """A journal consumer (``functions/runtime/journal.py``): executions by function,
        kind and outcome, and their durations, a batch per function at a time (C
        iterators over it: no Python step per execution)."""
        self.insights.on_executions(records)
        all_series = self.calls.series
        for key, group in groups(records, _path_and_kind):
            series = all_series.get(key)
            if series is None:
                # When the first finished, as the clock said then (the batch comes later).
                first = group[0]
                series = all_series[key] = _Series((first.started_ms + first.duration_ms) / 1000)
            ok = list(map(_error, group)).count(None)
            series.succeeded += ok
            series.failed += len(group) - ok
            series.duration.observe_all(list(map(truediv, map(_duration_ms, group),
                                                 repeat(1000))))

    def on_commit(self, seconds: float) -> None:
        """A ``Database.commit_observers`` entry."""
        self.calls.commits.observe(seconds)

    async def render(self) -> bytes:
        await self.sampled.refresh()
        if self._journal is not None:
            self._journal.flush()
        return generate_latest(self.registry)


class _Series:
    """One function's counters (by outcome) and durations."""

    __slots__ = ("created", "duration", "failed", "succeeded")

    def __init__(self, created: float) -> None:
        self.created = created
        self.succeeded = 0
        self.failed = 0
        self.duration = Histogram(DURATION_BUCKETS)


class _Calls(Collector):
    """Executions by function, kind and outcome, their durations, and commit latency:
    plain counters fed on every call, turned into Prometheus' families (the same names,
    labels and samples ``Counter`` and ``Histogram`` gave) only when scraped."""

    def __init__(self) -> None:
        self.series: dict[tuple[str, str], _Series] = {}
        self.commits = Histogram(COMMIT_BUCKETS)
        self.created = time.time()

    def collect(self) -> Iterator[Metric]:
        executions = CounterMetricFamily(
            "pyconvex_function_executions", "Function executions, by function, kind and outcome.",
            labels=["path", "kind", "status"])
        duration = HistogramMetricFamily(
            "pyconvex_function_duration_seconds", "Function execution time, by function and kind.",
            labels=["path", "kind"])
        for (path, kind), series in list(self.series.items()):
            for status, n in (("success", series.succeeded), ("failure", series.failed)):
                if n:
                    executions.add_metric([path, kind, status], n, created=series.created)
            duration.add_metric([path, kind], series.duration.cumulative(), series.duration.sum)
            duration.samples.append(Sample("pyconvex_function_duration_seconds_created",
                                           {"path": path, "kind": kind}, series.created))
        yield executions
        yield duration
        commits = HistogramMetricFamily(
            "pyconvex_commit_duration_seconds",
            "Time from handing a transaction's writes to the committer until they are durable.",
            buckets=self.commits.cumulative(), sum_value=self.commits.sum)
        commits.samples.append(Sample("pyconvex_commit_duration_seconds_created", {},
                                      self.created))
        yield commits


class _Sampled(Collector):
    """Values read at scrape time."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.scheduler_lag_s = 0.0
        self.file_bytes: float | None = None
        self._file_bytes_at = float("-inf")
        self.database_bytes: float | None = None

    async def refresh(self) -> None:
        """What needs the database or the disk, before the synchronous collect."""
        db = self.state.deployment.db
        txn = db.begin(writable=False, limits=None)
        first = await Query(txn, SCHEDULED_FUNCTIONS_TABLE).with_index(
            "by_next_ts", lambda q: q.gte("nextTs", 0.0)
        ).first()
        due = first["nextTs"] if first is not None else None
        now_ms = time.time() * 1000
        self.scheduler_lag_s = (
            max(0.0, (now_ms - float(due)) / 1000) if isinstance(due, (int, float)) else 0.0
        )
        persistence = db.persistence
        size_bytes = getattr(persistence, "size_bytes", None)  # PostgreSQL: ask the server
        self.database_bytes = (float(await size_bytes()) if callable(size_bytes)
                               else _database_bytes(persistence))
        store = self.state.deployment.runner.storage.store
        if store is None:
            self.file_bytes = None
        elif time.monotonic() - self._file_bytes_at >= store.size_every_s:
            self.file_bytes = float(await store.size_bytes())
            self._file_bytes_at = time.monotonic()

    def collect(self) -> Iterator[Metric]:
        state = self.state
        deployment = state.deployment
        runner = deployment.runner
        db = deployment.db
        yield _counter("pyconvex_occ_retries", "Mutation re-runs after an OCC conflict.",
                       runner.occ_retries)
        committer = db.committer
        yield _counter("pyconvex_commits", "Transactions committed by this process.",
                       committer.commits)
        yield _counter("pyconvex_commit_groups", "Commit groups written (several commits each).",
                       committer.groups)
        yield _counter("pyconvex_shared_head_conflicts",
                       "Commits that lost the shared head to another process (PostgreSQL).",
                       committer.head_conflicts)
        yield _gauge("pyconvex_committer_queue_depth", "Commits waiting for the committer.",
                     committer.queue_depth)
        manager = state.manager
        yield _gauge("pyconvex_subscriptions", "Live query subscriptions.",
                     len(manager.subscriptions) if manager is not None else 0)
        if manager is not None:
            yield _counter("pyconvex_subscription_reruns",
                           "Live queries re-run because a commit changed what they read.",
                           manager.reruns)
            latency = manager.transition_latency
            yield HistogramMetricFamily(
                "pyconvex_transition_latency_seconds",
                "From a commit that changed a live query's result to the Transition carrying "
                "the new result being written to its client (the oldest change in each).",
                buckets=latency.cumulative(), sum_value=latency.sum)
        yield _gauge("pyconvex_websocket_sessions", "Open sync (WebSocket) sessions.",
                     state.ws_sessions)
        workers = runner.actions
        busy = getattr(workers, "busy", None)
        started = getattr(workers, "started", None)
        if isinstance(busy, int) and isinstance(started, int):
            yield _gauge("pyconvex_action_workers_busy", "Action worker processes running an action.",
                         busy)
            yield _counter("pyconvex_action_workers_started", "Action worker processes started.",
                           started)
        yield _gauge("pyconvex_scheduler_lag_seconds",
                     "How late the most overdue scheduled function is (0: none overdue).",
                     self.scheduler_lag_s)
        if self.database_bytes is not None:
            yield _gauge("pyconvex_database_size_bytes",
                         "Size of the database: SQLite's files, or the PostgreSQL schema's tables "
                         "and indexes.", self.database_bytes)
        if self.file_bytes is not None:
            yield _gauge("pyconvex_file_storage_bytes",
                         "Bytes of stored files, orphans included (S3: listed every 5 minutes).",
                         self.file_bytes)
        streams = state.log_streams
        if streams is not None and streams.sinks:
            sent = CounterMetricFamily("pyconvex_log_stream_events_sent",
                                       "Events delivered to a log stream.", labels=["stream"])
            dropped = CounterMetricFamily("pyconvex_log_stream_events_dropped",
                                          "Events a log stream dropped (buffer full or delivery "
                                          "failed after its retries).", labels=["stream"])
            for sink_id, sink in streams.sinks.items():
                sent.add_metric([sink_id], sink.sent)
                dropped.add_metric([sink_id], sink.dropped)
            yield sent
            yield dropped


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _database_bytes(persistence: Any) -> float | None:
    path = getattr(persistence, "path", None)
    if not isinstance(path, (str, Path)) or str(path) == ":memory:":
        return None
    total = 0
    for suffix in ("", "-wal", "-shm"):
        try:
            total += Path(str(path) + suffix).stat().st_size
        except OSError:
            pass
    return float(total)


# --------------------------------------------------------------- endpoints
async def metrics(request: Request) -> Response:
    state: ServerState = request.app.state.server
    state.ensure_started()
    if not state.public_metrics:
        try:
            _, is_admin = await state.authenticate(request.headers.get("authorization"))
            if not is_admin:
                raise AuthError("/metrics needs the admin key (Authorization: Convex <admin key>), "
                                "or serve with --public-metrics.", short_msg="Unauthorized")
        except PyConvexError as e:
            return request_error(e)
    assert state.metrics is not None
    return Response(await state.metrics.render(), media_type=CONTENT_TYPE)


async def health(request: Request) -> Response:
    """Liveness: the process answers HTTP."""
    return Response(b'{"status":"ok"}', media_type="application/json")


async def ready(request: Request) -> Response:
    """Readiness: 200 when the deployment can serve, else 503 naming what is wrong."""
    state: ServerState = request.app.state.server
    deployment = state.deployment
    checks: dict[str, Any] = {}
    try:
        await asyncio.wait_for(deployment.db.persistence.max_ts(), READY_TIMEOUT_S)
        checks["database"] = "ok"
    except Exception as e:
        checks["database"] = f"unreachable: {type(e).__name__}: {e}"
    try:
        checks["committer"] = "ok" if deployment.db.committer.running else "stopped"
    except AssertionError:
        checks["committer"] = "stopped"
    functions = len(deployment.registry.functions)
    loaded = deployment.registry.generation > 0
    checks["functions"] = (f"{functions} loaded" if loaded
                           else "no code loaded (serve --functions DIR, or pyconvex deploy)")
    ok = checks["database"] == "ok" and checks["committer"] == "ok" and loaded
    body = {"status": "ready" if ok else "unavailable", "checks": checks}
    return Response(orjson.dumps(body), status_code=200 if ok else 503, media_type="application/json")
