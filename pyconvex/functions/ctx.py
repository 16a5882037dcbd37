"""What a handler's ``ctx`` offers, per function kind: the documented interfaces.

The implementations live in ``functions/runtime/``; these Protocols are what users
(and type checkers) see. ``pyconvex codegen`` writes the same interfaces typed for one
schema (``_generated/server.py``). Each kind exposes only what it may do:

- ``QueryCtx``: ``db`` (read-only), ``auth``, ``now()``, ``run_query`` (in the same
  transaction).
- ``MutationCtx``: ``db`` (read + write, one serializable transaction), ``auth``,
  ``now()``, ``scheduler``, ``storage``, ``run_query``/``run_mutation`` (in the same
  transaction), ``meta`` (the request: client address, ...).
- ``ActionCtx``: ``run_query/run_mutation/run_action`` (each its own transaction),
  ``auth``, ``now()``, ``meta``; network I/O allowed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Generic, NotRequired, ParamSpec, Protocol, TypedDict, TypeVar, overload

from pyconvex.protocol.references import FunctionReference
from pyconvex.values import Document, Id

DocT = TypeVar("DocT")
P = ParamSpec("P")
R = TypeVar("R")


class PaginationResult(TypedDict, Generic[DocT]):
    """What ``paginate`` returns (Convex's ``PaginationResult``)."""

    page: list[DocT]
    isDone: bool
    continueCursor: str
    splitCursor: NotRequired[str | None]
    pageStatus: NotRequired[str | None]


class QueryBuilder(Protocol[DocT]):
    """``ctx.db.query(table)``: choose an index range, an order, filters; then a terminal.

    >>> await (ctx.db.query("messages")
    ...        .with_index("by_channel", lambda q: q.eq("channelId", cid))
    ...        .order("desc").take(20))

    Reads are recorded only as far as the query went: ``take(20)`` re-runs only when a
    change touches the range up to its 20th result. ``DocT`` is the table's document
    type (generated code fills it in: ``QueryBuilder[MessagesDoc]``).
    """

    def with_index(
        self, name: str, range: Callable[[Any], Any] | None = None
    ) -> QueryBuilder[DocT]: ...
    def with_search_index(self, name: str, search: Callable[[Any], Any]) -> QueryBuilder[DocT]: ...
    def full_table_scan(self) -> QueryBuilder[DocT]: ...
    def order(self, order: str) -> QueryBuilder[DocT]: ...
    def filter(self, predicate: Callable[[Any], Any]) -> QueryBuilder[DocT]: ...
    async def collect(self) -> list[DocT]: ...
    async def take(self, n: int) -> list[DocT]: ...
    async def first(self) -> DocT | None: ...
    async def unique(self) -> DocT | None:
        """The single match or None; raises if there is more than one."""
        ...

    async def paginate(self, opts: Mapping[str, Any]) -> PaginationResult[DocT]:
        """``{"page", "isDone", "continueCursor", "splitCursor", "pageStatus"}``."""
        ...

    def __aiter__(self) -> AsyncIterator[DocT]: ...


class DatabaseReader(Protocol):
    """``get`` takes the id, or (convex 1.48's preferred form) the table then the id."""

    @overload
    async def get(self, doc_id: str, /) -> Document | None: ...
    @overload
    async def get(self, table: str, doc_id: str, /) -> Document | None: ...
    def query(self, table: str) -> QueryBuilder[Document]: ...
    def normalize_id(self, table: str, id_string: str) -> Id | None:
        """``id_string`` as an id of ``table``, or None if it is not one."""
        ...

    @property
    def system(self) -> Any:
        """Read-only ``get``/``query`` over ``_storage`` and ``_scheduled_functions``."""
        ...


class DatabaseWriter(DatabaseReader, Protocol):
    """``patch``/``replace``/``delete`` take the id, or the table then the id (checked
    against the id's table)."""

    async def insert(self, table: str, document: Mapping[str, Any]) -> Id:
        """Insert; returns the new id. The table is created on first insert."""
        ...

    @overload
    async def patch(self, doc_id: str, fields: Mapping[str, Any], /) -> None:
        """Shallow merge. ``None`` stores null; ``pyconvex.REMOVE`` deletes the field."""

    @overload
    async def patch(self, table: str, doc_id: str, fields: Mapping[str, Any], /) -> None: ...
    @overload
    async def replace(self, doc_id: str, document: Mapping[str, Any], /) -> None: ...
    @overload
    async def replace(self, table: str, doc_id: str, document: Mapping[str, Any], /) -> None: ...
    @overload
    async def delete(self, doc_id: str, /) -> None: ...
    @overload
    async def delete(self, table: str, doc_id: str, /) -> None: ...


class Auth(Protocol):
    async def get_user_identity(self) -> dict[str, Any] | None:
        """``{"tokenIdentifier", "subject", "issuer", ...claims}`` or None."""
        ...


class Meta(Protocol):
    async def get_request_metadata(self) -> dict[str, Any]:
        """``{"ip", "userAgent", "requestId", "scheduledFunctionId", "authToken"}``: the
        request this function runs for (Convex's ``ctx.meta.getRequestMetadata()``);
        ``ip`` and ``userAgent`` are None when no client sent it (a scheduled run)."""
        ...


class QueryCtx(Protocol):
    db: DatabaseReader
    auth: Auth

    def now(self) -> float:
        """The transaction's fixed time in ms since the epoch."""
        ...

    @overload
    async def run_query(self, ref: FunctionReference[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a query inside this transaction (its reads become this query's)."""

    @overload
    async def run_query(self, ref: str, args: Mapping[str, Any] | None = None, /) -> Any: ...


class MutationCtx(Protocol):
    db: DatabaseWriter
    auth: Auth
    scheduler: Any
    storage: Any
    meta: Meta

    def now(self) -> float: ...

    @overload
    async def run_query(self, ref: FunctionReference[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a query inside this mutation's transaction: it sees the writes so far."""

    @overload
    async def run_query(self, ref: str, args: Mapping[str, Any] | None = None, /) -> Any: ...

    @overload
    async def run_mutation(
        self, ref: FunctionReference[P, R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Run a mutation inside this transaction; if it raises, its writes are undone."""

    @overload
    async def run_mutation(self, ref: str, args: Mapping[str, Any] | None = None, /) -> Any: ...


class ActionCtx(Protocol):
    """Each ``run_*`` is its own transaction (an action has none)."""

    auth: Auth
    meta: Meta

    def now(self) -> float: ...

    @overload
    async def run_query(self, ref: FunctionReference[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R: ...
    @overload
    async def run_query(self, ref: str, args: Mapping[str, Any] | None = None, /) -> Any: ...
    @overload
    async def run_mutation(
        self, ref: FunctionReference[P, R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R: ...
    @overload
    async def run_mutation(self, ref: str, args: Mapping[str, Any] | None = None, /) -> Any: ...
    @overload
    async def run_action(self, ref: FunctionReference[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R: ...
    @overload
    async def run_action(self, ref: str, args: Mapping[str, Any] | None = None, /) -> Any: ...
