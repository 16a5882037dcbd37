"""``ctx.storage``: file metadata lives in ``_storage``, bytes in the ``FileStore``.

Rows look like Convex's (``sha256`` base64, ``size``, ``contentType``) plus
``internalId``, the blob's key in the store. A row commits only after its blob is
durable; deleting a row leaves the blob to the orphan collector, so a mutation that
deletes a file and then fails loses nothing.

URLs: ``get_url(id)`` is ``<deployment>/api/storage/<id>`` (as Convex's, it works as
long as the file exists). Beyond Convex, ``get_url(id, expires_in=seconds)`` is a
signed URL naming the blob, not the id, that stops working when it expires.
``generate_upload_url()`` is signed too: single use, valid one hour.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

from pyconvex.database import STORAGE_TABLE, Transaction
from pyconvex.errors import InvalidValueError
from pyconvex.files import BlobInfo
from pyconvex.files.tokens import sign
from pyconvex.functions.runtime.runner_api import Runner
from pyconvex.functions.runtime.services import StorageService
from pyconvex.values import Id

UPLOAD_URL_TTL_MS = 3600 * 1000


def storage_row(blob: BlobInfo, content_type: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "sha256": base64.b64encode(blob.sha256).decode(),
        "size": float(blob.size),  # a JS number, as Convex clients expect
        "internalId": blob.key,
    }
    if content_type:
        row["contentType"] = content_type
    return row


def _check_id(txn: Transaction, storage_id: Any, op: str) -> str:
    table = txn._table_of_id(storage_id) if isinstance(storage_id, str) else None
    if table is None or table.name != STORAGE_TABLE:
        raise InvalidValueError(f"storage.{op}: {storage_id!r} is not a storage id (Id<'_storage'>).")
    return str(storage_id)


async def _url(
    txn: Transaction, service: StorageService, storage_id: Any, expires_in: float | None
) -> str | None:
    sid = _check_id(txn, storage_id, "get_url")
    row = await txn.get(sid)
    if row is None:
        return None
    base = service.public_url.rstrip("/")
    if expires_in is None:
        return f"{base}/api/storage/{sid}"
    if expires_in <= 0:
        raise InvalidValueError("storage.get_url: expires_in must be a positive number of seconds.")
    token = sign(service.signing_key, "get", str(row["internalId"]), txn.now_ms + expires_in * 1000)
    return f"{base}/api/storage/signed/{token}"


def _upload_url(service: StorageService, now_ms: float) -> str:
    service.require()
    token = sign(service.signing_key, "upload", "-", now_ms + UPLOAD_URL_TTL_MS)
    return f"{service.public_url.rstrip('/')}/api/storage/upload?token={token}"


def _metadata(sid: str, row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"storageId": sid, "sha256": row["sha256"], "size": row["size"],
            "contentType": row.get("contentType")}


class QueryStorage:
    """``ctx.storage`` in queries: URLs and metadata (reading the row makes it reactive)."""

    __slots__ = ("_service", "_txn")

    def __init__(self, txn: Transaction, service: StorageService) -> None:
        self._txn = txn
        self._service = service

    async def get_url(self, storage_id: str, *, expires_in: float | None = None) -> str | None:
        return await _url(self._txn, self._service, storage_id, expires_in)

    async def get_metadata(self, storage_id: str) -> dict[str, Any] | None:
        sid = _check_id(self._txn, storage_id, "get_metadata")
        return _metadata(sid, await self._txn.get(sid))


class MutationStorage(QueryStorage):
    __slots__ = ()

    async def generate_upload_url(self) -> str:
        """A URL to POST the file's bytes to; answers ``{"storageId": ...}``. One use, 1 hour."""
        return _upload_url(self._service, self._txn.now_ms)

    async def delete(self, storage_id: str) -> None:
        """Delete the file (its row now; its bytes once the transaction has committed)."""
        sid = _check_id(self._txn, storage_id, "delete")
        if await self._txn.get(sid) is None:
            return
        await self._txn.update_system(sid, None)


class ActionStorage:
    """``ctx.storage`` in actions: also ``store`` and ``get`` of whole files."""

    __slots__ = ("_runner",)

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    @property
    def _service(self) -> StorageService:
        return self._runner.storage

    async def get_url(self, storage_id: str, *, expires_in: float | None = None) -> str | None:
        txn = self._runner.db.begin(writable=False)
        return await _url(txn, self._service, storage_id, expires_in)

    async def get_metadata(self, storage_id: str) -> dict[str, Any] | None:
        txn = self._runner.db.begin(writable=False)
        sid = _check_id(txn, storage_id, "get_metadata")
        return _metadata(sid, await txn.get(sid))

    async def generate_upload_url(self) -> str:
        return _upload_url(self._service, self._runner.clock())

    async def delete(self, storage_id: str) -> None:
        async def body(ctx: Any, txn: Transaction) -> None:
            await MutationStorage(txn, self._service).delete(storage_id)

        await self._runner.run_in_transaction(body, "storage.delete")

    async def store(self, data: bytes, content_type: str | None = None) -> Id:
        """Store ``data`` (bytes) as a new file; returns its storage id."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidValueError("storage.store expects bytes.")
        store = self._service.require()

        async def chunks() -> AsyncIterator[bytes]:
            yield bytes(data)

        blob = await store.put(chunks())
        return await insert_storage_row(self._runner, blob, content_type)

    async def get(self, storage_id: str) -> bytes | None:
        txn = self._runner.db.begin(writable=False)
        sid = _check_id(txn, storage_id, "get")
        row = await txn.get(sid)
        if row is None:
            return None
        return await self._service.require().read(str(row["internalId"]))


async def insert_storage_row(
    runner: Runner, blob: BlobInfo, content_type: str | None,
    before_insert: Any = None,
) -> Id:
    """Commit the ``_storage`` row of a durable blob (``before_insert(txn)`` may check a
    token in the same transaction). If it cannot commit, the blob is deleted."""

    async def body(ctx: Any, txn: Transaction) -> Id:
        if before_insert is not None:
            await before_insert(txn)
        return Id(txn.insert_system(STORAGE_TABLE, storage_row(blob, content_type)), STORAGE_TABLE)

    try:
        result = await runner.run_in_transaction(body, "storage.store")
    except BaseException:
        await runner.storage.require().delete(blob.key)
        raise
    value: Id = result.value
    return value
