"""The dashboard's queries, run over the sync protocol like any client's (Convex's
``_system/frontend/*``): the dashboard subscribes with the admin key and its grid, table
sizes and index states update as commits land, through the same subscriptions,
invalidation and transitions every client gets. They are internal functions, so only an
admin session (or an admin HTTP call) may run them.

Beyond Convex: ``paginatedTableDocuments`` plans the filter onto the best index and says
so (``plan``), takes the sort index, and reads "as of" an earlier timestamp (time
travel). A time-travel page is read from its own snapshot and records no reads in the
subscription, so it never re-runs: history within retention does not change.
"""

from __future__ import annotations

from typing import Any

from pyconvex.database import USER_VISIBLE_SYSTEM_TABLES, Query, TableInfo, Transaction
from pyconvex.database.catalog import CRON_JOBS_TABLE, INDEX_TABLE
from pyconvex.database.database import Database, RetentionError
from pyconvex.database.progress import progress_board
from pyconvex.database.table_counts import table_counts
from pyconvex.errors import BadRequestError, NotFoundError
from pyconvex.functions.system.filters import (
    MAX_ROWS_PER_PAGE,
    build_query,
    parse_filter_expression,
    plan,
)

MS_NS = 1_000_000


def _txn(ctx: Any) -> Transaction:
    """The query's transaction (system functions are pyconvex's own code)."""
    txn: Transaction = ctx.db._txn
    return txn


def _table(txn: Transaction, name: str) -> TableInfo:
    info = txn.table(name)  # recorded: the table's creation or removal re-runs the query
    if info is None or (info.is_system and name not in USER_VISIBLE_SYSTEM_TABLES):
        raise NotFoundError(f"There is no table {name!r}.", short_msg="TableNotFound")
    return info


def _as_of(txn: Transaction, at_ms: float) -> Transaction:
    """A read-only transaction at ``at_ms`` (ms since the epoch) within retention; the
    query's own (live) one when ``at_ms`` is not before its snapshot."""
    db: Database = txn.db  # type: ignore[assignment]
    ts = int(at_ms * MS_NS)
    if ts >= txn.begin_ts:
        return txn
    if ts < db.retained_from:
        raise RetentionError(
            f"at={at_ms:.0f} is older than the retention window: versions from "
            f"{db.retained_from // MS_NS} ms on are kept.")
    return db.begin(writable=False, limits=txn.limits, ts=ts)


async def paginated_table_documents(
    ctx: Any, table: str, paginationOpts: dict[str, Any], filters: str | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    """One page of ``table``: ``filters`` is Convex's base64 filter expression, ``at``
    reads as of that moment. The result is ``paginate()``'s, plus ``plan`` (the index
    used and which clauses it could not take) and ``ts`` (the snapshot read)."""
    txn = _txn(ctx)
    info = _table(txn, table)
    clauses, order, index_name = parse_filter_expression(filters)
    chosen = plan(info, clauses, index_name)
    read = _as_of(txn, at) if at is not None else txn
    query = build_query(read, info.name, chosen, order or "desc")
    opts = dict(paginationOpts)
    if chosen.rest:
        opts.setdefault("maximumRowsRead", MAX_ROWS_PER_PAGE)
    result = await query.paginate(opts)
    return {**result, "plan": chosen.explain(bool(clauses)), "ts": str(read.begin_ts)}


async def table_size(ctx: Any, tableName: str) -> float:
    """The number of documents, live: any insert or delete in the table re-runs it, and
    the count comes from the commit stream (``table_counts``), not a scan."""
    txn = _txn(ctx)
    info = txn.table(tableName)
    if info is None:
        return 0.0
    txn.reads.add(info.by_id.id, b"", None)  # the whole table: any change re-runs this
    db: Database = txn.db  # type: ignore[assignment]
    return float(await table_counts(db).count(info, txn.begin_ts))


async def indexes(
    ctx: Any, tableName: str, tableNamespace: str | None = None,
) -> list[dict[str, Any]]:
    """The table's indexes with their state (Convex's ``indexes`` query), live as the
    states change; a backfill in progress carries its documents done and total (those
    two are as of this run: the HTTP ``progress`` endpoint follows them between runs)."""
    if tableNamespace is not None:
        raise BadRequestError("tableNamespace: pyconvex has no components; pass null.",
                              short_msg="BadRequest")
    txn = _txn(ctx)
    info = txn.table(tableName)
    if info is None:
        return []
    rows = await Query(txn, INDEX_TABLE).with_index(
        "by_table", lambda q: q.eq("tableNumber", info.number)).collect()
    db: Database = txn.db  # type: ignore[assignment]
    running = {(p.table, p.index): p for p in progress_board(db).running()}
    out = []
    for row in rows:
        name = row.get("name")
        if name in ("by_id", "by_creation_time"):
            continue
        state = row.get("state")
        entry: dict[str, Any] = {"name": name, "fields": row.get("fields"),
                                 "staged": state == "staged",
                                 "backfill": {"state": "backfilling" if state == "backfilling"
                                              else "done"}}
        work = running.get((tableName, str(name)))
        if state == "backfilling" and work is not None:
            entry["backfill"]["stats"] = {"numDocsIndexed": work.count, "totalDocs": work.total}
        out.append(entry)
    return out


async def list_cron_jobs(ctx: Any) -> list[Any]:
    """The registered cron jobs (``_cron_jobs``: name, schedule, function, arguments,
    next and last run), live as runs update them."""
    return await Query(_txn(ctx), CRON_JOBS_TABLE).collect()
