"""``GET /api/pyconvex/export`` and ``POST /api/pyconvex/import``: snapshot ZIPs over
the admin API (``pyconvex export`` / ``pyconvex import``).

An export includes the uploaded files unless ``includeStorage=0``. An import with
``progress=1`` answers with JSON lines as it goes, so a long import is never silent:
``{"progress": {"table", "done", "total"}}`` while documents (and ``_storage`` files)
are written, ``{"phase": "committing", "documents": n}`` before the commit, and last
``{"result": {...}}`` or ``{"error": {"code", "message"}}``. The import hands the event
loop back every thousand documents, so other requests go on being served meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
import zipfile
from collections.abc import AsyncIterator
from typing import IO, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from pyconvex.errors import BadRequestError, PyConvexError
from pyconvex.server.state import ServerState
from pyconvex.snapshot import ImportSummary, export_snapshot, import_snapshot
from pyconvex.snapshot.storage import has_blobs

log = logging.getLogger("pyconvex.snapshot")

SPOOL_BYTES = 32 * 1024 * 1024
CHUNK = 256 * 1024


def _flag(request: Request, name: str, default: bool) -> bool:
    value = request.query_params.get(name)
    return default if value is None else value in ("1", "true")


async def export(request: Request, state: ServerState) -> Response:
    """A snapshot ZIP of every user table (and file) at one timestamp, spooled, then
    streamed."""
    store = state.deployment.runner.storage.store if _flag(request, "includeStorage", True) else None
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed by the stream)
    try:
        summary = await export_snapshot(state.deployment.db, spool, files=store)
    except BaseException:
        spool.close()
        raise
    size = spool.tell()
    spool.seek(0)

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while data := spool.read(CHUNK):
                yield data
        finally:
            spool.close()

    return StreamingResponse(chunks(), media_type="application/zip", headers={
        "Content-Length": str(size),
        "Content-Disposition": 'attachment; filename="snapshot.zip"',
        "X-Pyconvex-Tables": orjson.dumps(summary.tables).decode(),
        "X-Pyconvex-Files": orjson.dumps({"files": summary.files, "bytes": summary.file_bytes,
                                          "leftOut": summary.files_left_out}).decode(),
    })


def _result(summary: ImportSummary) -> dict[str, Any]:
    return {"tables": summary.tables, "renumbered": summary.renumbered,
            "skipped": summary.skipped, "files": summary.files, "ts": summary.ts}


async def import_(request: Request, state: ServerState) -> Response:
    replace = _flag(request, "replace", False)
    store = state.deployment.runner.storage.store
    spool = tempfile.TemporaryFile()  # noqa: SIM115 (closed below or by the stream)
    try:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        if store is None:
            _refuse_files_without_store(spool)
        if not _flag(request, "progress", False):
            summary = await import_snapshot(state.deployment.db, spool, replace=replace, files=store)
            return Response(orjson.dumps(_result(summary)), media_type="application/json")
    except BaseException:
        spool.close()
        raise
    return StreamingResponse(_with_progress(state, spool, replace), media_type="application/x-ndjson")


def _refuse_files_without_store(spool: IO[bytes]) -> None:
    """Files with nowhere to go: refuse rather than restore documents that point at
    files this deployment will not have."""
    try:
        with zipfile.ZipFile(spool) as archive:
            holds_files = has_blobs(archive)
    except zipfile.BadZipFile:
        return  # the import names the problem
    finally:
        spool.seek(0)
    if holds_files:
        raise BadRequestError(
            "The snapshot holds uploaded files, but this deployment has no file storage: "
            "serve with --files DIR (or s3://bucket/prefix) and import again.",
            short_msg="StorageNotConfigured",
        )


async def _with_progress(state: ServerState, spool: IO[bytes], replace: bool) -> AsyncIterator[bytes]:
    lines: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    started = time.monotonic()

    def progress(table: str, done: int, total: int) -> None:
        if done < 0:
            lines.put_nowait({"phase": "committing", "documents": total})
            log.info("import: committing %s documents (%.1f s so far)", f"{total:,}",
                     time.monotonic() - started)
        else:
            lines.put_nowait({"progress": {"table": table, "done": done, "total": total}})
            if done == total:
                log.info("import: %s: %s %s written", table, f"{done:,}",
                         "files" if table == "_storage" else "documents")

    async def run() -> None:
        try:
            summary = await import_snapshot(state.deployment.db, spool, replace=replace,
                                            progress=progress, files=state.deployment.runner.storage.store)
            lines.put_nowait({"result": _result(summary)})
            log.info("import: done, %s documents and %d files in %.1f s",
                     f"{sum(summary.tables.values()):,}", summary.files, time.monotonic() - started)
        except PyConvexError as e:
            lines.put_nowait({"error": {"code": e.short_msg, "message": e.message}})
            log.warning("import refused: %s", e.message)
        finally:
            lines.put_nowait(None)

    task = asyncio.get_running_loop().create_task(run())
    try:
        while (line := await lines.get()) is not None:
            yield orjson.dumps(line) + b"\n"
        await task
    finally:
        if not task.done():
            task.cancel()
        spool.close()
