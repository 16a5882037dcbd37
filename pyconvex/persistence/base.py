"""The storage boundary: an append-only, multi-version log of documents and index entries.

Contract (every backend, checked by ``tests/conformance/test_persistence.py``):

1. Nothing is updated in place. A document version is ``(id, ts)``; a delete is a
   tombstone (``value is None``). An index entry is ``(index_id, key, ts)``; a removed
   key is a tombstone (``doc_id is None``).
2. A read at timestamp ``T`` sees, for each document id / index key, the newest entry
   with ``ts <= T``, and nothing if that entry is a tombstone.
3. ``write`` is atomic and durable: when it returns, every entry of the batch survives a
   crash of the process; if it raises, none is visible. Several commits may share one
   ``write`` (group commit) and their timestamps may differ.
4. Index keys are compared as raw bytes (their encoding preserves value order), so a
   range scan is a byte-range scan. ``hi=None`` means "no upper bound".
5. Timestamps are int64, and the writer of a batch guarantees they only grow.

Beside the log, one kind of row that is not versioned: a sync-session mutation's
outcome (:class:`SessionRequestRow`), written in its commit's storage transaction and
deleted by age.

Document values are opaque bytes to this layer (the database layer stores Convex JSON).
SQL lives only in this package. The records below are named tuples, not dataclasses:
the commit path builds several per mutation and a tuple is several times cheaper to make.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Literal, NamedTuple, Protocol, runtime_checkable

Order = Literal["asc", "desc"]


class DocumentLogEntry(NamedTuple):
    """One version of one document. ``value is None`` marks a delete (a tombstone)."""

    ts: int
    id: str
    table_number: int
    value: bytes | None
    prev_ts: int | None = None


class IndexEntry(NamedTuple):
    """One version of one index key. ``doc_id is None`` marks the key as removed."""

    index_id: int
    key: bytes
    ts: int
    doc_id: str | None


class IndexRow(NamedTuple):
    """A live index key at a snapshot, joined with the document version it points to."""

    key: bytes
    doc_id: str
    doc_ts: int
    value: bytes


class SessionRequestRow(NamedTuple):
    """The outcome of one sync-session mutation, kept for replays (a resend after a
    reconnect is answered from it). Written in its mutation's own storage transaction,
    one row per commit (``ts`` is that commit's, so no two rows share it); outside the
    document log: it is never read at a snapshot, never versioned, and deleted by age
    (``created``, ms on the deployment's clock)."""

    ts: int
    session_id: str
    request_id: int
    created: float
    record: bytes


class LogCommit(NamedTuple):
    """One commit as other processes learn of it: its timestamp and the index keys it
    wrote (what OCC validation and subscriptions need), and whether it changed tables,
    indexes or the schema."""

    ts: int
    written: tuple[tuple[int, bytes], ...]
    catalog_changed: bool = False


class Persistence(Protocol):
    """A backend for the document and index logs (SQLite, PostgreSQL).

    Reads are ``async`` so a networked backend fits; an embedded backend may answer
    without yielding. Only one writer (the committer) calls ``write``.

    The committer writes through one of two paths: a :class:`SharedLog` backend
    (PostgreSQL: several processes) commits each group with ``commit_shared``, one at a
    time; any other backend (SQLite) must be a :class:`PipelinedLog`.
    """

    def write(
        self, documents: Sequence[DocumentLogEntry], indexes: Sequence[IndexEntry]
    ) -> Awaitable[None]:
        """Append one batch atomically and durably (one storage transaction, one sync)."""
        ...

    async def max_ts(self) -> int:
        """The largest timestamp ever written (0 for an empty store)."""
        ...

    async def get_document(self, doc_id: str, ts: int) -> DocumentLogEntry | None:
        """The newest version of ``doc_id`` with ``ts' <= ts``, tombstones included."""
        ...

    async def index_scan(
        self,
        index_id: int,
        lo: bytes,
        hi: bytes | None,
        ts: int,
        order: Order,
        limit: int,
    ) -> list[IndexRow]:
        """Up to ``limit`` live keys in ``[lo, hi)`` at snapshot ``ts``, in ``order``.

        Each key's newest entry with ``ts' <= ts`` decides: a tombstone hides the key.
        Rows carry the document version (newest with ``ts' <= ts``) the key points to.
        To continue a scan, call again with ``lo``/``hi`` moved past the last key.
        """
        ...

    def load_documents(
        self, from_ts: int, to_ts: int | None = None
    ) -> AsyncIterator[DocumentLogEntry]:
        """Every document log entry with ``from_ts <= ts (<= to_ts)``, by ``(ts, id)``."""
        ...

    def load_index_entries(
        self, index_id: int, from_ts: int = 0
    ) -> AsyncIterator[IndexEntry]:
        """Every entry of one index with ``ts >= from_ts``, by ``(key, ts)``."""
        ...

    async def delete_versions_before(self, cutoff: int, limit: int) -> int:
        """Delete up to ``limit`` entries no read at a timestamp ``>= cutoff`` can see:
        versions superseded by a newer one at or below ``cutoff``, and tombstones at or
        below ``cutoff`` (with everything older of that id / key). Returns how many."""
        ...

    async def get_global(self, key: str) -> str | None:
        """Deployment metadata (instance name, admin key hash, ...) outside the log."""
        ...

    async def get_session_request(self, session_id: str, request_id: int) -> SessionRequestRow | None:
        """The recorded outcome of one session mutation, if one committed. A second
        record of one request (a client that broke the protocol) never fails its commit,
        and this answers the first."""
        ...

    async def oldest_session_requests(self, limit: int) -> list[SessionRequestRow]:
        """Up to ``limit`` session request rows, oldest commit first."""
        ...

    async def delete_session_requests_through(self, ts: int) -> int:
        """Delete the session request rows of commits at or before ``ts``; how many."""
        ...

    async def set_global(self, key: str, value: str) -> None: ...

    async def close(self) -> None: ...


SessionRecord = tuple[str, int, float, bytes]
"""A commit's :class:`SessionRequestRow` without its timestamp: ``(session_id,
request_id, created, record)``."""

CommitRows = tuple[
    int,
    Sequence[tuple[str, int, bytes | None, int | None]],
    Sequence[tuple[int, bytes, str | None]],
    SessionRecord | None,
]
"""One commit for :meth:`PipelinedLog.write_commits_then`: its timestamp, its document
versions ``(id, table_number, value, prev_ts)``, its index entries ``(index_id, key,
doc_id)`` and its session request record, if any, all without the timestamp, which every
row of the commit shares."""


@runtime_checkable
class PipelinedLog(Protocol):
    """What a backend written by one process offers the committer (SQLite).

    ``write_commits_then`` takes a group of commits (:data:`CommitRows`, timestamps
    increasing). It queues the group when called, applies groups in call order (none is
    durable before one written earlier) and reports completion by calling ``on_done(None
    or the error)`` directly, in call order. ``write_pipeline`` is how many such groups
    the committer may have outstanding at once.
    """

    write_pipeline: int

    def write_commits_then(
        self, commits: Sequence[CommitRows], on_done: Callable[[BaseException | None], None]
    ) -> None: ...


@runtime_checkable
class SharedLog(Protocol):
    """What a backend that several processes share adds (PostgreSQL).

    Commits are serialised through the head timestamp (``max_ts``): ``commit_shared``
    appends the batch and its :class:`LogCommit` records only if the head is still
    ``expected_head``, atomically, and answers False otherwise (another process
    committed first: catch up with ``commits_after`` and try again).
    """

    async def commit_shared(
        self,
        documents: Sequence[DocumentLogEntry],
        indexes: Sequence[IndexEntry],
        commits: Sequence[LogCommit],
        expected_head: int,
        session_requests: Sequence[SessionRequestRow] = (),
    ) -> bool: ...

    async def commits_after(self, ts: int) -> list[LogCommit]: ...

    async def hold_instance_lock(self, instance: str) -> None:
        """Hold a lock named ``instance`` for as long as this process lives."""
        ...

    async def instance_alive(self, instance: str) -> bool:
        """Whether some process still holds ``instance``'s lock."""
        ...

    async def wait_for_commits(self, timeout: float) -> int | None:
        """Return when a process committed (a notification: its head timestamp, which
        may be this process's own), or None after ``timeout`` seconds."""
        ...
