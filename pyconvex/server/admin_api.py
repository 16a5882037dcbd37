"""The admin HTTP API the ``pyconvex`` CLI speaks (deploy, data, logs, env).

Every endpoint needs the deployment's admin key (``Authorization: Convex <key>``). The
paths live under ``/api/pyconvex/`` so they never collide with Convex's public API.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from pyconvex.database import USER_VISIBLE_SYSTEM_TABLES, Query
from pyconvex.errors import AuthError, BadRequestError, PyConvexError
from pyconvex.server.errors import request_error
from pyconvex.server.log_buffer import record_json
from pyconvex.server.state import ServerState
from pyconvex.values import convex_to_json

MAX_DEPLOY_BYTES = 64 * 1024 * 1024
MAX_DATA_LIMIT = 10_000
MAX_WAIT_S = 30.0

Handler = Callable[[Request, ServerState], Awaitable[Response]]


def _json(obj: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json")


def admin(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Check the admin key, turn pyconvex errors into ``{"code", "message"}`` answers."""

    async def endpoint(request: Request) -> Response:
        state: ServerState = request.app.state.server
        try:
            _, is_admin = await state.authenticate(request.headers.get("authorization"))
            if not is_admin:
                raise AuthError(
                    "This endpoint needs the deployment's admin key "
                    "(Authorization: Convex <admin key>).",
                    short_msg="Unauthorized",
                )
            return await handler(request, state)
        except PyConvexError as e:
            return request_error(e)

    return endpoint


def unpack_functions_zip(data: bytes) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise BadRequestError("The deploy body is not a ZIP archive.", short_msg="BadDeploy") from None
    files: dict[str, bytes] = {}
    total = 0
    for info in archive.infolist():
        if info.is_dir():
            continue
        total += info.file_size
        if total > MAX_DEPLOY_BYTES:
            raise BadRequestError(
                f"The functions directory is larger than {MAX_DEPLOY_BYTES} bytes unpacked.",
                short_msg="BadDeploy",
            )
        files[info.filename] = archive.read(info)
    if not files:
        raise BadRequestError("The deploy archive holds no files.", short_msg="BadDeploy")
    return files


async def deploy(request: Request, state: ServerState) -> Response:
    body = await request.body()
    if len(body) > MAX_DEPLOY_BYTES:
        raise BadRequestError("The deploy archive is too large.", short_msg="BadDeploy")
    result = await state.deployment.deploy(unpack_functions_zip(body))
    registry = state.deployment.registry
    return _json({
        "functions": sorted(registry.functions),
        "schema": None if result is None else result.describe(),
        "backfilled": {} if result is None else result.backfilled,
    })


async def tables(request: Request, state: ServerState) -> Response:
    db = state.deployment.db
    return _json({"tables": sorted(t.name for t in db.catalog.user_tables())})


async def data(request: Request, state: ServerState) -> Response:
    table = request.query_params.get("table", "")
    try:
        limit = int(request.query_params.get("limit", "100"))
    except ValueError:
        raise BadRequestError("limit must be an integer.", short_msg="BadLimit") from None
    if not 1 <= limit <= MAX_DATA_LIMIT:
        raise BadRequestError(f"limit must be 1..{MAX_DATA_LIMIT}.", short_msg="BadLimit")
    order = request.query_params.get("order", "desc")
    db = state.deployment.db
    readable_system = table in USER_VISIBLE_SYSTEM_TABLES
    if not readable_system and (db.catalog.table(table) is None or table.startswith("_")):
        raise BadRequestError(f"There is no table {table!r}.", short_msg="TableNotFound")
    at = request.query_params.get("at")
    ts = None
    if at:
        try:
            ts = min(int(float(at) * 1_000_000), db.latest_ts)  # ms since the epoch -> ts
        except ValueError:
            raise BadRequestError("at must be milliseconds since the epoch.", short_msg="BadAt") from None
    txn = db.begin(writable=False, limits=None, ts=ts)
    docs = await Query(txn, table).order(order).take(limit)
    return _json({"table": table, "ts": txn.begin_ts, "documents": [convex_to_json(d) for d in docs]})


async def logs(request: Request, state: ServerState) -> Response:
    state.ensure_started()
    assert state.logs is not None
    try:
        after = int(request.query_params.get("after", "-1"))
        wait = min(float(request.query_params.get("wait", "0")), MAX_WAIT_S)
    except ValueError:
        raise BadRequestError("after and wait must be numbers.", short_msg="BadLogsRequest") from None
    if after < 0:  # start from now
        return _json({"entries": [], "last": state.logs.last_seq})
    entries = await state.logs.wait_after(after, wait) if wait > 0 else state.logs.after(after)
    last = entries[-1][0] if entries else after
    return _json({"entries": [record_json(n, r) for n, r in entries], "last": last})


async def env_list(request: Request, state: ServerState) -> Response:
    return _json({"variables": dict(state.deployment.environment)})


async def env_update(request: Request, state: ServerState) -> Response:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise BadRequestError("Body must be JSON.", short_msg="BadJsonBody") from None
    changes = body.get("changes") if isinstance(body, dict) else None
    if not isinstance(changes, dict):
        raise BadRequestError('Expected {"changes": {"NAME": "value" | null}}.', short_msg="BadJsonBody")
    env = await state.deployment.set_environment(changes)
    return _json({"variables": env})
