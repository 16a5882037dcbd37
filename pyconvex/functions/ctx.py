"""What a handler's ``ctx`` offers, per function kind: the documented interfaces.

The implementations live in ``functions/runtime/``; these Protocols are what users
(and type checkers) see. Each kind exposes only what it may do:

- ``QueryCtx``: ``db`` (read-only), ``auth``, ``now()``.
- ``MutationCtx``: ``db`` (read + write, one serializable transaction), ``auth``, ``now()``.
- ``ActionCtx``: ``run_query/run_mutation/run_action`` (each its own transaction),
  ``auth``, ``now()``; network I/O allowed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from pyconvex.values import Document, Id


class QueryBuilder(Protocol):
    """``ctx.db.query(table)``: choose an index range, an order, filters; then a terminal.

    >>> await (ctx.db.query("messages")
    ...        .with_index("by_channel", lambda q: q.eq("channelId", cid))
    ...        .order("desc").take(20))

    Reads are recorded only as far as the query went: ``take(20)`` re-runs only when a
    change touches the range up to its 20th result.
    """

    def with_index(self, name: str, range: Callable[[Any], Any] | None = None) -> QueryBuilder: ...
    def full_table_scan(self) -> QueryBuilder: ...
    def order(self, order: str) -> QueryBuilder: ...
    def filter(self, predicate: Callable[[Any], Any]) -> QueryBuilder: ...
    async def collect(self) -> list[Document]: ...
    async def take(self, n: int) -> list[Document]: ...
    async def first(self) -> Document | None: ...
    async def unique(self) -> Document | None:
        """The single match or None; raises if there is more than one."""
        ...

    async def paginate(self, opts: dict[str, Any]) -> dict[str, Any]:
        """``{"page", "isDone", "continueCursor", "splitCursor", "pageStatus"}``."""
        ...

    def __aiter__(self) -> AsyncIterator[Document]: ...


class DatabaseReader(Protocol):
    async def get(self, doc_id: str) -> Document | None: ...
    def query(self, table: str) -> QueryBuilder: ...
    def normalize_id(self, table: str, id_string: str) -> Id | None:
        """``id_string`` as an id of ``table``, or None if it is not one."""
        ...

    @property
    def system(self) -> Any:
        """Read-only ``get``/``query`` over ``_storage`` and ``_scheduled_functions``."""
        ...


class DatabaseWriter(DatabaseReader, Protocol):
    async def insert(self, table: str, document: dict[str, Any]) -> Id:
        """Insert; returns the new id. The table is created on first insert."""
        ...

    async def patch(self, doc_id: str, fields: dict[str, Any]) -> None:
        """Shallow merge. ``None`` stores null; ``pyconvex.REMOVE`` deletes the field."""
        ...

    async def replace(self, doc_id: str, document: dict[str, Any]) -> None: ...
    async def delete(self, doc_id: str) -> None: ...


class Auth(Protocol):
    async def get_user_identity(self) -> dict[str, Any] | None:
        """``{"tokenIdentifier", "subject", "issuer", ...claims}`` or None."""
        ...


class QueryCtx(Protocol):
    db: DatabaseReader
    auth: Auth

    def now(self) -> float:
        """The transaction's fixed time in ms since the epoch."""
        ...


class MutationCtx(Protocol):
    db: DatabaseWriter
    auth: Auth

    def now(self) -> float: ...


class ActionCtx(Protocol):
    auth: Auth

    def now(self) -> float: ...
    async def run_query(self, ref: Any, args: dict[str, Any] | None = None) -> Any: ...
    async def run_mutation(self, ref: Any, args: dict[str, Any] | None = None) -> Any: ...
    async def run_action(self, ref: Any, args: dict[str, Any] | None = None) -> Any: ...
