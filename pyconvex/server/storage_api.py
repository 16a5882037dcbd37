"""File storage over HTTP: uploads to signed URLs, downloads with ranges.

``POST /api/storage/upload?token=...`` streams the body into the store (bounded
memory), makes it durable, then commits the ``_storage`` row together with the token's
nonce: a token works once, and only within its hour. ``GET /api/storage/<id>`` and
``GET /api/storage/signed/<token>`` serve the bytes with the stored content type;
``Range`` requests (one range) are answered for local and remote (S3) stores alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse

from pyconvex.database import STORAGE_TABLE, Query, Transaction
from pyconvex.database.catalog import DEPLOYMENT_STATE_TABLE
from pyconvex.database.state import find_state
from pyconvex.errors import PyConvexError
from pyconvex.files.tokens import BadTokenError, verify
from pyconvex.functions.runtime.storage import UPLOAD_URL_TTL_MS, insert_storage_row
from pyconvex.server.errors import request_error
from pyconvex.server.state import ServerState

MAX_UPLOAD_BYTES = 1024 * 1024 * 1024


class TokenUsedError(BadTokenError):
    short_msg = "StorageTokenUsed"


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.server
    return state


async def upload(request: Request) -> Response:
    state = _state(request)
    runner = state.deployment.runner
    service = runner.storage
    try:
        store = service.require()
        token = request.query_params.get("token")
        if not token:
            raise BadTokenError("The upload URL has no token: use ctx.storage.generate_upload_url().")
        _, nonce = verify(service.signing_key, "upload", token, runner.clock())

        async def body() -> AsyncIterator[bytes]:
            async for chunk in request.stream():
                if chunk:
                    yield chunk

        blob = await store.put(body(), max_bytes=MAX_UPLOAD_BYTES)

        async def spend_token(txn: Transaction) -> None:
            key = f"upload:{nonce}"
            if await find_state(txn, key) is not None:
                raise TokenUsedError("This upload URL was already used: generate a new one.")
            txn.insert_system(DEPLOYMENT_STATE_TABLE, {
                "key": key, "value": float(runner.clock() + UPLOAD_URL_TTL_MS)
            })

        content_type = request.headers.get("content-type") or None
        storage_id = await insert_storage_row(runner, blob, content_type, spend_token)
    except PyConvexError as e:
        return request_error(e)
    return JSONResponse({"storageId": storage_id})


async def _serve(state: ServerState, row: dict[str, Any] | None, range_header: str | None) -> Response:
    store = state.deployment.runner.storage.store
    if row is None or store is None:
        return JSONResponse({"code": "FileNotFound", "message": "No such file."}, status_code=404)
    key = str(row["internalId"])
    media_type = str(row.get("contentType") or "application/octet-stream")
    headers = {"Cache-Control": "private, max-age=2592000, immutable",
               "Digest": f"sha-256={row['sha256']}"}
    path = store.local_path(key)
    if path is not None:
        return FileResponse(path, media_type=media_type, headers=headers)
    size = int(row["size"])  # stored as a float (a JS number); a header needs the integer
    headers["Accept-Ranges"] = "bytes"
    span = _byte_range(range_header, size)
    if span is None:
        return StreamingResponse(store.stream(key), media_type=media_type,
                                 headers={**headers, "Content-Length": str(size)})
    start, end = span
    if start >= size or start > end:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    return StreamingResponse(store.stream(key, start, end + 1), status_code=206, media_type=media_type,
                             headers={**headers, "Content-Length": str(end + 1 - start),
                                      "Content-Range": f"bytes {start}-{end}/{size}"})


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One ``bytes=a-b`` / ``a-`` / ``-n`` range (remote stores; local files are served
    by Starlette's FileResponse, ranges included); None: the whole file."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[6:].strip().partition("-")
    try:
        if not first:
            n = int(last)
            return (max(0, size - n), size - 1) if n > 0 else None
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    except ValueError:
        return None
    return start, end


async def download(request: Request) -> Response:
    state = _state(request)
    storage_id = request.path_params["storage_id"]
    txn = state.deployment.db.begin(writable=False)
    table = txn._table_of_id(storage_id)
    row = await txn.get(storage_id) if table is not None and table.name == STORAGE_TABLE else None
    return await _serve(state, row, request.headers.get("range"))


async def signed_download(request: Request) -> Response:
    state = _state(request)
    runner = state.deployment.runner
    try:
        key, _ = verify(runner.storage.signing_key, "get", request.path_params["token"], runner.clock())
    except PyConvexError as e:
        return request_error(e)
    txn = state.deployment.db.begin(writable=False)
    row = await Query(txn, STORAGE_TABLE).with_index(
        "by_internal_id", lambda q: q.eq("internalId", key)
    ).first()
    return await _serve(state, row, request.headers.get("range"))



