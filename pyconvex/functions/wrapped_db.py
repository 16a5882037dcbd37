"""What every ``ctx.db`` wrapper shares (row-level security, triggers).

A wrapper holds the database it wraps as ``inner`` and forwards what it does not
change, so wrappers stack (rules outside, triggers inside). Code that must reach the
database itself, as the rate limiter does for its own state, follows ``inner`` down
with :func:`unwrap_db`: rules and triggers are for the application's tables, not for
the machinery's.
"""

from __future__ import annotations

from typing import Any

from pyconvex.values import Id


class DatabaseWrapper:
    """Base of the ``ctx.db`` wrappers: forwards ``system`` and ``normalize_id``."""

    def __init__(self, inner: Any) -> None:
        for name in ("get", "query", "normalize_id"):
            if not callable(getattr(inner, name, None)):
                raise TypeError(
                    f"{type(self).__name__} wraps a ctx.db (a DatabaseReader or "
                    f"DatabaseWriter); {inner!r} has no {name}()"
                )
        self.inner = inner

    @property
    def system(self) -> Any:
        """``ctx.db.system``, unchanged: system tables are read-only and not the app's."""
        return self.inner.system

    def normalize_id(self, table: str, id_string: str) -> Id | None:
        result: Id | None = self.inner.normalize_id(table, id_string)
        return result

    def _table_among(self, doc_id: Any, tables: Any) -> str | None:
        """Which of ``tables`` the id belongs to (None: another table, or not an id)."""
        if not isinstance(doc_id, str):
            return None
        for table in tables:
            if self.inner.normalize_id(table, doc_id) is not None:
                return str(table)
        return None


def unwrap_db(db: Any) -> Any:
    """The database under every :class:`DatabaseWrapper` around ``db``."""
    while isinstance(db, DatabaseWrapper):
        db = db.inner
    return db


def split_target(op: str, args: tuple[Any, ...], arity: int) -> tuple[str | None, Any]:
    """``(table, id)`` of ``get(id)``/``get(table, id)`` style calls (``arity`` counts the
    arguments of the id-first form, id included)."""
    if len(args) == arity:
        return None, args[0]
    if len(args) == arity + 1 and isinstance(args[0], str):
        return args[0], args[1]
    raise TypeError(
        f"db.{op}() takes {arity} argument(s), or {arity + 1} with the table first; "
        f"got {len(args)}"
    )


class PassThrough(DatabaseWrapper):
    """A wrapper that changes some calls only: queries, and anything else a ``ctx.db``
    offers that it does not define, go to the inner database unchanged. (Row-level
    security is no such wrapper: it must define every read, or one would leak.)"""

    def query(self, table: str) -> Any:
        return self.inner.query(table)

    def __getattr__(self, name: str) -> Any:
        inner = self.__dict__.get("inner")
        if inner is None:
            raise AttributeError(name)
        return getattr(inner, name)


class MemoReader(PassThrough):
    """A read-only ``ctx.db`` whose ``get`` remembers what it read, for one execution.

    Row-level rules hand it to rules in queries: a query's snapshot is fixed and it
    cannot write, so the second ``get`` of a document (the same channel for every
    message of a page) returns what the first read, and the read set already holds it.
    Never used where the database can write: a write would make the memory stale.
    """

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        if callable(getattr(inner, "insert", None)):
            raise TypeError("MemoReader is for read-only databases (queries)")
        self._docs: dict[tuple[Any, ...], Any] = {}

    async def get(self, *args: Any) -> Any:
        try:
            return self._docs[args]
        except KeyError:
            pass
        except TypeError:  # unhashable arguments: the database reports them
            return await self.inner.get(*args)
        doc = await self.inner.get(*args)
        self._docs[args] = doc
        return doc
