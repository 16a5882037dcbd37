"""Triggers: code that runs inside the writing transaction on every change to a table.

>>> triggers = Triggers()
>>> @triggers.register("messages")
... async def count(ctx, change):
...     delta = {"insert": 1, "delete": -1}.get(change.operation, 0)
...     ...
>>> mutation = custom_mutation(raw_mutation, custom_ctx(triggers.wrap_db))

Contract (convex-helpers' ``Triggers`` semantics, with a depth limit):

- Every ``insert``, ``patch``, ``replace`` and ``delete`` made through the wrapped
  ``ctx.db`` calls the table's triggers, in registration order, right after the write,
  with a :class:`Change` (``operation``, ``id``, ``old_doc``, ``new_doc``).
- Triggers run in the same transaction: their writes commit with the write that fired
  them, and a trigger that raises makes the whole mutation write nothing.
- A trigger's ``ctx.db`` is wrapped too, so its writes fire triggers (a cascade);
  ``ctx.inner_db`` writes without firing. A chain deeper than ``max_depth`` raises
  :class:`LimitExceededError` (``TriggerDepthExceeded``) instead of looping forever.
- Writes made through the unwrapped database (another ``ctx.db``) fire nothing.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, overload

from pyconvex.errors import LimitExceededError
from pyconvex.functions.custom import CustomCtx
from pyconvex.functions.wrapped_db import PassThrough, split_target
from pyconvex.values import Document, Id

__all__ = ["Change", "Trigger", "TriggerWriter", "Triggers"]

Operation = Literal["insert", "update", "delete"]


@dataclass(frozen=True, slots=True)
class Change:
    """One write, as a trigger sees it. ``old_doc`` is None for an insert, ``new_doc``
    None for a delete; both are full documents with system fields."""

    table: str
    id: Id
    operation: Operation
    old_doc: Document | None
    new_doc: Document | None


Trigger = Callable[[Any, Change], Awaitable[Any]]
DEFAULT_MAX_DEPTH = 16


class Triggers:
    """A set of triggers per table; :meth:`wrap_db` turns a mutation's ctx on."""

    def __init__(self, *, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 1:
            raise ValueError(f"Triggers(max_depth=...) must be a positive int, got {max_depth!r}")
        self.max_depth = max_depth
        self._by_table: dict[str, list[Trigger]] = {}

    @overload
    def register(self, table: str) -> Callable[[Trigger], Trigger]: ...

    @overload
    def register(self, table: str, trigger: Trigger) -> Trigger: ...

    def register(self, table: str, trigger: Trigger | None = None) -> Any:
        """Add ``trigger(ctx, change)`` for ``table``; usable as a decorator."""
        if not isinstance(table, str) or not table or table.startswith("_"):
            raise ValueError(f"triggers are registered on a user table name, got {table!r}")

        def add(fn: Trigger) -> Trigger:
            if not inspect.iscoroutinefunction(fn):
                raise TypeError(
                    f"trigger {getattr(fn, '__name__', fn)!r} on '{table}' must be "
                    "'async def trigger(ctx, change)'"
                )
            self._by_table.setdefault(table, []).append(fn)
            return fn

        return add(trigger) if trigger is not None else add

    def triggers_for(self, table: str) -> list[Trigger]:
        return list(self._by_table.get(table, ()))

    @property
    def tables(self) -> list[str]:
        return list(self._by_table)

    def wrap_db(self, ctx: Any) -> dict[str, Any]:
        """``{"db": <ctx.db firing triggers>}``, for ``custom_ctx(triggers.wrap_db)``."""
        return {"db": TriggerWriter(ctx, ctx.db, self)}


class TriggerWriter(PassThrough):
    """``ctx.db`` that fires :class:`Triggers` on every write; reads pass through."""

    def __init__(self, ctx: Any, db: Any, triggers: Triggers, depth: int = 0) -> None:
        super().__init__(db)
        if not callable(getattr(db, "insert", None)):
            raise TypeError("triggers need a writable ctx.db (a mutation's)")
        self.ctx = ctx
        self.triggers = triggers
        self.depth = depth

    # Reads are the inner database's.
    async def get(self, *args: Any) -> Document | None:
        doc: Document | None = await self.inner.get(*args)
        return doc


    # ------------------------------------------------------------------ writes
    def _table(self, table: str | None, doc_id: Any) -> str | None:
        return table or self._table_among(doc_id, self.triggers.tables)

    async def _fire(self, change: Change) -> None:
        fns = self.triggers.triggers_for(change.table)
        if not fns:
            return
        if self.depth >= self.triggers.max_depth:
            raise LimitExceededError(
                f"Triggers: a chain of triggers went {self.depth + 1} levels deep (the limit "
                f"is {self.triggers.max_depth}) on '{change.table}' ({change.operation}); a "
                "trigger probably writes what fires it again",
                short_msg="TriggerDepthExceeded",
            )
        ctx = CustomCtx(self.ctx, {
            "db": TriggerWriter(self.ctx, self.inner, self.triggers, self.depth + 1),
            "inner_db": self.inner,
        })
        for fn in fns:
            await fn(ctx, change)

    async def insert(self, table: str, document: dict[str, Any]) -> Id:
        new_id: Id = await self.inner.insert(table, document)
        if self.triggers.triggers_for(table):
            new_doc = await self.inner.get(new_id)
            await self._fire(Change(table, new_id, "insert", None, new_doc))
        return new_id

    async def _update(self, op: str, args: tuple[Any, ...], arity: int) -> None:
        table, doc_id = split_target(op, args, arity)
        table = self._table(table, doc_id)
        if table is None or not self.triggers.triggers_for(table):
            await getattr(self.inner, op)(*args)
            return
        old_doc = await self.inner.get(doc_id)
        await getattr(self.inner, op)(*args)
        new_doc = None if op == "delete" else await self.inner.get(doc_id)
        operation: Operation = "delete" if op == "delete" else "update"
        await self._fire(Change(table, Id(str(doc_id), table), operation, old_doc, new_doc))

    async def patch(self, *args: Any) -> None:
        await self._update("patch", args, 2)

    async def replace(self, *args: Any) -> None:
        await self._update("replace", args, 2)

    async def delete(self, *args: Any) -> None:
        await self._update("delete", args, 1)
