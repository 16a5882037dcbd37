"""The admin endpoints only the dashboard uses (``/api/pyconvex/dashboard/*``); the page
itself is served by ``dashboard_page``. Every endpoint here needs the admin key (``admin()``).

Writes made here are ordinary transactions: the schema validates them (its error is the
answer, shown next to the edited document), subscribers see them like any commit.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pyconvex.database import (
    SCHEDULED_FUNCTIONS_TABLE,
    STORAGE_TABLE,
    USER_VISIBLE_SYSTEM_TABLES,
    Database,
    Query,
    TableInfo,
    Transaction,
)
from pyconvex.database.database import RetentionError
from pyconvex.database.progress import ProgressLog, progress_board
from pyconvex.errors import BadRequestError, NotFoundError, OccConflict
from pyconvex.files.tokens import sign
from pyconvex.functions.runtime.scheduling import cancel_job
from pyconvex.functions.system.filters import MAX_ROWS_PER_PAGE, build_query, parse_filters, plan
from pyconvex.server.admin_api import admin
from pyconvex.server.dashboard_health import GETS
from pyconvex.server.dashboard_watch import TableWatch, watch_of
from pyconvex.server.state import ServerState
from pyconvex.values import convex_to_json, json_to_convex

MAX_PAGE = 1000
MAX_BATCH = 1000
CLEAR_BATCH = 2000
UPLOAD_TTL_MS = 3600 * 1000


def _json(obj: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json")


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise BadRequestError("The body must be JSON.", short_msg="BadJsonBody") from None
    if not isinstance(body, dict):
        raise BadRequestError("The body must be a JSON object.", short_msg="BadJsonBody")
    return body


def _user_table(db: Database, name: Any, *, system_ok: bool = False) -> TableInfo:
    info = db.catalog.table(name) if isinstance(name, str) else None
    if info is None or (info.is_system and not (system_ok and name in USER_VISIBLE_SYSTEM_TABLES)):
        raise NotFoundError(f"There is no table {name!r}.", short_msg="TableNotFound")
    return info


def _int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    try:
        value = default if raw is None else int(raw)
    except ValueError:
        raise BadRequestError(f"{name} must be an integer.", short_msg="BadRequest") from None
    if not lo <= value <= hi:
        raise BadRequestError(f"{name} must be {lo}..{hi}, got {value}.", short_msg="BadRequest")
    return value


# ------------------------------------------------------------------ tables and documents
async def tables(request: Request, state: ServerState) -> Response:
    """Every user table: its count, indexes (with state), and schema validator. With
    ``counts=cached`` a count not known yet is null instead of waited for (the first
    count of a large table scans its keys): the page lists tables at once, then asks
    again for the counts."""
    db = state.deployment.db
    watch = watch_of(request.app.state, db)
    cached_only = request.query_params.get("counts") == "cached"
    schema = db.catalog.schema
    running = {(w.table, w.index): w for w in progress_board(db).running() if w.kind == "index"}
    out = []
    for info in sorted(db.catalog.user_tables(), key=lambda t: t.name):
        definition = schema.tables.get(info.name) if schema is not None else None
        described = definition.to_json() if definition is not None else None
        out.append({
            "name": info.name,
            "count": watch.table_counts.known(info) if cached_only else await watch.count(info),
            "indexes": [{"name": i.name, "fields": list(i.fields), "state": i.state,
                         "backfill": _backfill(running.get((info.name, i.name)), watch, info)}
                        for i in info.indexes.values()],
            "searchIndexes": described["searchIndexes"] if described else [],
            "documentType": described["documentType"] if described else None,
        })
    return _json({
        "tables": out,
        "schemaValidation": schema.schema_validation if schema is not None else None,
        "retainedFromMs": db.retained_from / 1_000_000,
    })


def _backfill(work: ProgressLog | None, watch: TableWatch, info: TableInfo) -> dict[str, Any] | None:
    """How far a running backfill got (None when the index is not being backfilled);
    the total is the table's count when it is known."""
    if work is None:
        return None
    total = work.total if work.total is not None else watch.table_counts.known(info)
    return {"done": work.count, "total": total}


def _snapshot(db: Database, request: Request) -> int | None:
    at = request.query_params.get("at")
    if not at:
        return None
    try:
        ts = int(float(at) * 1_000_000)  # milliseconds since the epoch -> a timestamp
    except ValueError:
        raise BadRequestError("at must be milliseconds since the epoch.", short_msg="BadAt") from None
    if ts < db.retained_from:
        raise RetentionError(f"{at} is older than the retention window (versions from "
                             f"{db.retained_from // 1_000_000} ms on are kept).")
    return min(ts, db.latest_ts)


async def documents(request: Request, state: ServerState) -> Response:
    """One page of the grid: ``table``, ``cursor``, ``numItems``, ``order``, ``index``
    (the sort), ``filters`` (JSON), ``at`` (time travel, ms)."""
    db = state.deployment.db
    q = request.query_params
    info = _user_table(db, q.get("table"), system_ok=True)
    num = _int_param(request, "numItems", 100, 1, MAX_PAGE)
    order = q.get("order", "desc")
    if order not in ("asc", "desc"):
        raise BadRequestError("order must be asc or desc.", short_msg="BadRequest")
    try:
        raw_filters = orjson.loads(q["filters"]) if q.get("filters") else None
    except orjson.JSONDecodeError:
        raise BadRequestError("filters must be JSON.", short_msg="BadFilter") from None
    clauses = parse_filters(raw_filters)
    chosen = plan(info, clauses, q.get("index") or None)
    txn = db.begin(writable=False, limits=None, ts=_snapshot(db, request))
    query = build_query(txn, info.name, chosen, order)
    opts: dict[str, Any] = {"numItems": num, "cursor": q.get("cursor") or None}
    if chosen.rest:
        opts["maximumRowsRead"] = MAX_ROWS_PER_PAGE
    result = await query.paginate(opts)
    return _json({
        "table": info.name,
        "ts": str(txn.begin_ts),  # a 64-bit timestamp: past what a JS number holds exactly
        "page": [convex_to_json(d) for d in result["page"]],
        "isDone": result["isDone"],
        "continueCursor": result["continueCursor"],
        "plan": chosen.explain(bool(clauses)),
    })


async def _commit(db: Database, body: Any) -> Any:
    """Run ``body(txn)`` in a transaction and commit it, again on a conflict."""
    for _ in range(20):
        txn = db.begin(limits=None)
        result = await body(txn)
        try:
            await db.commit(txn)
        except OccConflict:
            continue
        return result
    raise OccConflict("The documents kept changing: try again.")


def _value(raw: Any, what: str) -> dict[str, Any]:
    value = json_to_convex(raw, what)
    if not isinstance(value, dict):
        raise BadRequestError(f"{what} must be a JSON object.", short_msg="BadDocument")
    return value


async def insert(request: Request, state: ServerState) -> Response:
    body = await _body(request)
    db = state.deployment.db
    info = _user_table(db, body.get("table"))
    raw = body.get("documents")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_BATCH:
        raise BadRequestError(f"documents must be a list of 1..{MAX_BATCH} objects.",
                              short_msg="BadDocument")
    values = [_value(d, f"document {i + 1}") for i, d in enumerate(raw)]

    async def run(txn: Transaction) -> list[str]:
        return [await txn.insert(info.name, v) for v in values]

    return _json({"ids": await _commit(db, run)})


async def replace(request: Request, state: ServerState) -> Response:
    body = await _body(request)
    doc_id = body.get("id")
    value = _value(body.get("value"), "value")

    async def run(txn: Transaction) -> None:
        await txn.replace(doc_id, value)  # type: ignore[arg-type]

    await _commit(state.deployment.db, run)
    return _json({"id": doc_id})


async def delete(request: Request, state: ServerState) -> Response:
    body = await _body(request)
    ids = body.get("ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_BATCH:
        raise BadRequestError(f"ids must be a list of 1..{MAX_BATCH} document ids.",
                              short_msg="BadRequest")

    async def run(txn: Transaction) -> int:
        for doc_id in ids:
            await txn.delete(doc_id)
        return len(ids)

    return _json({"deleted": await _commit(state.deployment.db, run)})


async def clear(request: Request, state: ServerState) -> Response:
    """Delete every document of ``table``; ``confirm`` must repeat the table's name."""
    body = await _body(request)
    db = state.deployment.db
    info = _user_table(db, body.get("table"))
    if body.get("confirm") != info.name:
        raise BadRequestError(f"To clear {info.name!r}, confirm with its name.",
                              short_msg="ConfirmationMismatch")
    total = 0
    while True:
        async def run(txn: Transaction) -> int:
            docs = await Query(txn, info.name).take(CLEAR_BATCH)
            for d in docs:
                await txn.delete(str(d["_id"]))
            return len(docs)

        n = await _commit(db, run)
        total += n
        if n < CLEAR_BATCH:
            return _json({"deleted": total})


# ------------------------------------------------------------- schedules, crons, files
async def cancel(request: Request, state: ServerState) -> Response:
    body = await _body(request)
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids:
        raise BadRequestError("ids must be a list of scheduled function ids.", short_msg="BadRequest")

    async def run(txn: Transaction) -> None:
        for job_id in ids:
            await cancel_job(txn, job_id)

    await _commit(state.deployment.db, run)
    return _json({"canceled": len(ids)})


async def crons(request: Request, state: ServerState) -> Response:
    """Cron jobs with their schedule, and each one's recent runs from
    ``_scheduled_functions`` (newest first)."""
    db = state.deployment.db
    txn = db.begin(writable=False, limits=None)
    jobs = [convex_to_json(d) for d in await Query(txn, "_cron_jobs").collect()]
    recent = await Query(txn, SCHEDULED_FUNCTIONS_TABLE).order("desc").take(500)
    return _json({"crons": jobs, "recent": [convex_to_json(d) for d in recent]})


async def upload_url(request: Request, state: ServerState) -> Response:
    """A one-use upload URL, the one ``ctx.storage.generate_upload_url()`` gives."""
    runner = state.deployment.runner
    service = runner.storage
    service.require()
    token = sign(service.signing_key, "upload", "-", runner.clock() + UPLOAD_TTL_MS)
    return _json({"url": f"/api/storage/upload?token={token}"})


async def delete_files(request: Request, state: ServerState) -> Response:
    body = await _body(request)
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids:
        raise BadRequestError("ids must be a list of storage ids.", short_msg="BadRequest")

    async def run(txn: Transaction) -> None:
        for sid in ids:
            table = txn._table_of_id(sid) if isinstance(sid, str) else None
            if table is None or table.name != STORAGE_TABLE:
                raise BadRequestError(f"{sid!r} is not a storage id.", short_msg="BadRequest")
            if await txn.get(sid) is not None:
                await txn.update_system(sid, None)

    await _commit(state.deployment.db, run)
    return _json({"deleted": len(ids)})


def _routes() -> list[Route]:
    get = {
        "tables": tables, "documents": documents, "crons": crons, **GETS,
    }
    posts = {
        "insert": insert, "replace": replace, "delete": delete, "clear": clear, "cancel": cancel,
        "upload_url": upload_url, "delete_files": delete_files,
    }
    out = [Route(f"/api/pyconvex/dashboard/{name}", admin(fn)) for name, fn in get.items()]
    out += [Route(f"/api/pyconvex/dashboard/{name}", admin(fn), methods=["POST"])
            for name, fn in posts.items()]
    return out


ROUTES = _routes()
"""The dashboard's admin endpoints, each behind the admin key."""


def dashboard_url(base: str, admin_key: str) -> str:
    """The link ``pyconvex dev`` / ``serve`` print: the key rides in the fragment, which the
    browser never sends, and the page moves it to the tab's storage and off the address."""
    return f"{base.rstrip('/')}/dashboard#key={quote(admin_key, safe='')}"
