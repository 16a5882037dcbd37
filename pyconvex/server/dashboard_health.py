"""The dashboard's figures: health, per-function metrics for charts, insights from read
sets, and the progress of long work (``/api/pyconvex/dashboard/*``, admin key).

Function figures come from :class:`~pyconvex.server.insights.Insights` (the last hour,
per minute, fed by the metrics' execution listener): they cover every execution of the
hour, not just those still in the log ring. Sizes are the ones ``/metrics`` reports.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from pyconvex.database import STORAGE_TABLE
from pyconvex.database.progress import progress_board
from pyconvex.database.table_counts import table_counts
from pyconvex.server.dashboard_watch import watch_of
from pyconvex.server.insights import Insights
from pyconvex.server.state import ServerState


def _json(obj: Any) -> Response:
    return Response(orjson.dumps(obj), media_type="application/json")


def _insights(state: ServerState) -> Insights:
    state.ensure_started()
    assert state.metrics is not None, "ensure_started starts the metrics"
    return state.metrics.insights


def _now_ms(state: ServerState) -> float:
    """Wall-clock now: the clock execution records are stamped with (``_Run``)."""
    return time.time() * 1000


async def health(request: Request, state: ServerState) -> Response:
    """What the health page shows: commits per second, sessions and subscriptions,
    function latency, the database's and the file store's sizes, documents per table,
    and per function the hour's calls, errors, p50/p99 and documents read and written."""
    db = state.deployment.db
    watch = watch_of(request.app.state, db)
    counts = {t.name: await watch.count(t) for t in db.catalog.user_tables()}
    storage = db.catalog.table(STORAGE_TABLE)
    files = await watch.count(storage) if storage is not None else 0
    insights = _insights(state)
    sizes: dict[str, float | None] = {"databaseBytes": None, "fileBytes": None}
    if state.metrics is not None:  # the sizes /metrics reports
        await state.metrics.sampled.refresh()
        sizes = {"databaseBytes": state.metrics.sampled.database_bytes,
                 "fileBytes": state.metrics.sampled.file_bytes}
    now_ms = _now_ms(state)
    series = insights.series(now_ms)
    per_minute = [0] * insights.minutes  # executions per minute, oldest first
    for row in series["functions"].values():
        for i, bucket in enumerate(row["buckets"]):
            per_minute[i] += bucket["calls"]
    totals = insights.totals(now_ms)
    functions = [{"path": path, **row} for path, row in sorted(totals.items())]
    return _json({
        **sizes,
        "subscriptions": len(state.manager.subscriptions) if state.manager is not None else 0,
        "sessions": state.ws_sessions,
        "commitsPerSecond": watch.commits_per_second(),
        "commits": db.committer.commits,
        "occRetries": state.deployment.runner.occ_retries,
        "latency": insights.latency(now_ms),
        "callsPerMinute": per_minute,
        "latestCommitMs": db.latest_ts / 1_000_000,
        "retainedFromMs": db.retained_from / 1_000_000,
        "tables": counts,
        "documents": sum(counts.values()),
        "files": files,
        "functions": functions,
    })


async def function_metrics(request: Request, state: ServerState) -> Response:
    """Per-minute figures over the last hour, per function (``path`` for one): the
    charts' data."""
    path = request.query_params.get("path") or None
    return _json(_insights(state).series(_now_ms(state), path))


async def insights(request: Request, state: ServerState) -> Response:
    """The hour's insights: documents read per function (and how many without an index
    range), the largest read sets, and the documents hot with OCC conflicts."""
    db = state.deployment.db
    report = _insights(state).report(_now_ms(state), db.catalog)
    return _json(report)


async def progress(request: Request, state: ServerState) -> Response:
    """Long work running now: index backfills (documents done of the table's total) and
    search index builds (document versions read; no total known in advance)."""
    db = state.deployment.db
    counts = table_counts(db)
    out = []
    for work in progress_board(db).running():
        item = work.to_json()
        if work.kind == "index" and item["total"] is None:
            table = db.catalog.table(work.table)
            if table is not None:
                item["total"] = await counts.count(table)
        out.append(item)
    return _json({"work": sorted(out, key=lambda w: (w["startedMs"], w["what"]))})


GETS = {"health": health, "function_metrics": function_metrics, "insights": insights,
        "progress": progress}
"""The read-only figures, routed by ``dashboard_api`` under ``/api/pyconvex/dashboard/``."""
