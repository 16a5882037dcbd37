"""``ctx`` for an action running in a worker: the same interface as the in-process
``ActionCtx``, each call sent to the server and answered there (``host.py``)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from pyconvex.functions.api import function_path
from pyconvex.functions.runtime.ctx_impl import Auth
from pyconvex.functions.runtime.request_meta import META, Meta
from pyconvex.values import Id

Call = Callable[..., Awaitable[Any]]
"""``call(method, *args, **kwargs)``: one round trip to the server."""


class _RemoteScheduler:
    __slots__ = ("_call",)

    def __init__(self, call: Call) -> None:
        self._call = call

    async def run_after(self, delay_ms: float, ref: Any, args: dict[str, Any] | None = None) -> Id:
        result: Id = await self._call("scheduler.run_after", delay_ms, function_path(ref), args)
        return result

    async def run_at(self, timestamp_ms: float, ref: Any, args: dict[str, Any] | None = None) -> Id:
        result: Id = await self._call("scheduler.run_at", timestamp_ms, function_path(ref), args)
        return result

    async def cancel(self, job_id: str) -> None:
        await self._call("scheduler.cancel", job_id)


class _RemoteStorage:
    __slots__ = ("_call",)

    def __init__(self, call: Call) -> None:
        self._call = call

    async def get_url(self, storage_id: str, *, expires_in: float | None = None) -> str | None:
        result: str | None = await self._call("storage.get_url", storage_id, expires_in=expires_in)
        return result

    async def get_metadata(self, storage_id: str) -> dict[str, Any] | None:
        result: dict[str, Any] | None = await self._call("storage.get_metadata", storage_id)
        return result

    async def generate_upload_url(self) -> str:
        result: str = await self._call("storage.generate_upload_url")
        return result

    async def delete(self, storage_id: str) -> None:
        await self._call("storage.delete", storage_id)

    async def store(self, data: bytes, content_type: str | None = None) -> Id:
        payload = bytes(data) if isinstance(data, (bytearray, memoryview)) else data
        result: Id = await self._call("storage.store", payload, content_type)
        return result

    async def get(self, storage_id: str) -> bytes | None:
        result: bytes | None = await self._call("storage.get", storage_id)
        return result


class _FilterRecorder:
    """Stands in for the vector index's filter builder: records ``q.eq``/``q.or_`` so
    the filter, a lambda, can cross as data and be replayed on the server."""

    def eq(self, field: str, value: Any) -> tuple[Any, ...]:
        return ("eq", field, value)

    def or_(self, *clauses: Any) -> tuple[Any, ...]:
        return ("or", *clauses)


class RemoteActionCtx:
    """``ctx`` in an action running in a worker process."""

    __slots__ = ("_call", "auth", "scheduler", "storage")
    meta: Meta = META  # reads the origin the worker set for this action (worker.py)

    def __init__(self, call: Call, identity: dict[str, Any] | None) -> None:
        self._call = call
        self.auth = Auth(identity)
        self.scheduler = _RemoteScheduler(call)
        self.storage = _RemoteStorage(call)

    def now(self) -> float:
        return time.time() * 1000

    async def run_query(self, ref: Any, args: dict[str, Any] | None = None) -> Any:
        return await self._call("run_query", function_path(ref), args or {})

    async def run_mutation(self, ref: Any, args: dict[str, Any] | None = None) -> Any:
        return await self._call("run_mutation", function_path(ref), args or {})

    async def run_action(self, ref: Any, args: dict[str, Any] | None = None) -> Any:
        return await self._call("run_action", function_path(ref), args or {})

    async def vector_search(
        self, table: str, index: str, *, vector: list[float], limit: int = 10, filter: Any = None
    ) -> list[dict[str, Any]]:
        recorded = filter(_FilterRecorder()) if filter is not None else None
        result: list[dict[str, Any]] = await self._call(
            "vector_search", table, index, vector=list(vector), limit=limit, filter=recorded
        )
        return result
