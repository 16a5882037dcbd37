"""SQLite's writer: a child process that owns the writer connection.

Why a process, not a thread: every call into SQLite releases the GIL while SQLite works
and must take it back afterwards from the event-loop thread, which releases and retakes
it between callbacks faster than a waiting thread wakes up. Under load a writer thread
waited about as long for the GIL as for its fsync, on every batch. A child process has
its own interpreter: its commits run at single-threaded speed while the server's loop
runs at full speed, and the two talk over a socket pair the loop reads without a
thread.

Protocol: length-prefixed frames over a private socket pair, written by ``marshal``
(both ends run the same interpreter; for a commit group it takes well under half of
pickle's instructions, since it keeps no memo of every string and tuple), or by
``pickle`` for a value marshal refuses (a ``str`` subclass such as an ``Id``, a named
tuple), which the length's top bit marks. The parent sends
``(op, args)`` and gets ``(ok, value)`` back, one reply per request, in order; the
replies to the requests the child took together travel as one frame, a list. The child
takes every request already waiting and commits consecutive ``write`` requests in ONE
transaction (one fsync) — group commit across the batches the committer handed over
while the previous fsync ran. If such a merged transaction fails, each batch is retried
alone, so one bad batch fails only its own callers.

Lifetime: the child exits when its socket reaches end of file (the parent closed it,
exited or was killed), after finishing the transaction in progress. It holds an
exclusive ``flock`` on ``<db>.writer.lock`` while it has the file open, so a writer of a
later process (after a ``kill -9`` of this one) starts only once this one is gone and
cannot interleave a last unacknowledged batch with timestamps of its own.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import marshal
import os
import pickle
import socket
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any, TypeAlias

from pyconvex.errors import NO_SPACE_SIGNS, storage_full
from pyconvex.persistence import sqlite_batches as sql
from pyconvex.persistence import sqlite_schema as schema
from pyconvex.persistence.errors import StorageError
from pyconvex.persistence.sqlite_checkpointer import WRITER_AUTOCHECKPOINT_PAGES, Checkpointer

_HEADER = struct.Struct("<I")
_PICKLED = 1 << 31  # in a frame's length: the payload is a pickle, not marshal data
OnDone: TypeAlias = "Callable[[BaseException | None], None]"
_LABELS = {
    "write": "write", "commits": "write", "delete_versions_before": "retention", "open": "open",
    "delete_session_requests_through": "session request retention",
    "index_session_requests": "session request indexing",
}
WRITER_LOCK_WAIT_S = 30.0  # how long a new writer waits for a previous one to exit

# ------------------------------------------------------------------ the child's operations
class _Writer:
    """The child's state: its connection, its lock and its checkpointer."""

    def __init__(self) -> None:
        self.conn: sqlite3.Connection | None = None
        self.lock_fd: int | None = None
        self.checkpointer: Checkpointer | None = None

    def open(self, path: str) -> None:
        self.lock_fd = _wait_for_writer_lock(Path(path))
        self.conn = schema.connect(Path(path))
        self.conn.execute(f"PRAGMA wal_autocheckpoint={WRITER_AUTOCHECKPOINT_PAGES}")
        schema.create_or_upgrade(self.conn)
        self.checkpointer = Checkpointer(Path(path))

    def writes(self, requests: list[tuple[str, Any]]) -> list[tuple[bool, Any]]:
        """Commit consecutive write requests together; if that fails, each alone."""
        assert self.conn is not None
        before = self.conn.total_changes
        replies: list[tuple[bool, Any]] | None = None
        if len(requests) > 1:
            try:
                sql.write_batches(self.conn, [sql.WRITES[op](arg) for op, arg in requests])
                replies = [(True, None)] * len(requests)
            except Exception:
                pass
        if replies is None:
            replies = [self._run("write", sql.write_one, self.conn, op, arg) for op, arg in requests]
        if self.checkpointer is not None:
            self.checkpointer.committed(self.conn, self.conn.total_changes - before)
        return replies

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction of a maintenance operation: committed, or rolled back."""
        conn = self.conn
        assert conn is not None
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            schema.rollback(conn)
            raise

    def delete_versions_before(self, cutoff: int, limit: int) -> int:
        with self._transaction() as conn:
            conn.execute(sql.PIN_HEAD)
            args = {"cutoff": cutoff, "limit": limit}
            n = conn.execute(sql.OLD_DOCUMENTS, args).rowcount
            n += conn.execute(sql.OLD_INDEX_ENTRIES, args).rowcount
        return int(n)

    def delete_session_requests_through(self, ts: int) -> int:
        with self._transaction() as conn:
            conn.execute(sql.DELETE_SESSION_REQUEST_KEYS, (ts,))
            n = conn.execute(sql.DELETE_SESSION_REQUESTS, (ts,)).rowcount
        return int(n)

    def index_session_requests(self, through: int) -> int:
        """Put down the lookup keys of the session requests up to ``through`` not yet
        indexed, in key order, and move the watermark, in one transaction."""
        n = 0
        with self._transaction() as conn:
            row = conn.execute(sql.GET_GLOBAL, (sql.INDEXED_THROUGH,)).fetchone()
            done = int(row[0]) if row is not None else 0
            if through > done:
                n = conn.execute(sql.INDEX_SESSION_REQUESTS, (done, through)).rowcount
                conn.execute(sql.SET_GLOBAL, (sql.INDEXED_THROUGH, str(through)))
        return int(n)

    def set_global(self, key: str, value: str) -> None:
        assert self.conn is not None
        self.conn.execute(sql.SET_GLOBAL, (key, value))

    def pragmas(self) -> dict[str, Any]:
        """What the writer connection runs with (for tests)."""
        assert self.conn is not None
        names = ("journal_mode", "synchronous", "busy_timeout", "user_version", "query_only")
        return {n: self.conn.execute(f"PRAGMA {n}").fetchone()[0] for n in names}

    @staticmethod
    def _run(op: str, fn: Any, *args: Any) -> tuple[bool, Any]:
        """``(True, result)``, or ``(False, message)`` naming the operation and the
        driver's error, which the parent raises as a StorageError."""
        try:
            return True, fn(*args)
        except StorageError as e:  # already says what is wrong (a newer layout, ...)
            return False, str(e)
        except Exception as e:
            return False, f"SQLite {_LABELS.get(op, op)} failed: {type(e).__name__}: {e}"

    def handle(self, requests: list[tuple[str, tuple[Any, ...]]]) -> list[tuple[bool, Any]]:
        replies: list[tuple[bool, Any]] = []
        i = 0
        while i < len(requests):
            op, args = requests[i]
            if op in sql.WRITES:
                j = i
                while j < len(requests) and requests[j][0] in sql.WRITES:
                    j += 1
                replies += self.writes([(op, args[0]) for op, args in requests[i:j]])
                i = j
                continue
            replies.append(self._run(op, getattr(self, op), *args))
            i += 1
        return replies

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.close()
        if self.conn is not None:
            self.conn.close()
        if self.lock_fd is not None:
            os.close(self.lock_fd)


def _wait_for_writer_lock(path: Path) -> int:
    fd = os.open(path.with_name(path.name + ".writer.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + WRITER_LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise TimeoutError(
                    f"the writer of an earlier process still holds {path}.writer.lock"
                ) from None
            time.sleep(0.02)


def _frames(buffer: bytearray) -> list[Any]:
    """Take the complete frames off the front of ``buffer``."""
    out = []
    pos = 0
    with memoryview(buffer) as view:  # read in place, not copied out first
        while len(buffer) - pos >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buffer, pos)
            loads = pickle.loads if size & _PICKLED else marshal.loads
            end = pos + _HEADER.size + (size & ~_PICKLED)
            if len(buffer) < end:
                break
            out.append(loads(view[pos + _HEADER.size : end]))
            pos = end
    del buffer[:pos]
    return out


class _Inbox:
    """The child's receiving end. One receive buffer for the child's lifetime:
    ``sock.recv(n)`` allocates ``n`` bytes per call (at 1 MiB that is an mmap, an
    mremap and a munmap per round trip), ``recv_into`` fills the same buffer."""

    SIZE = 1 << 20

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.chunk = bytearray(self.SIZE)
        self.view = memoryview(self.chunk)
        self.buffer = bytearray()

    def receive(self) -> list[Any] | None:
        """Block for at least one request, then take every one already waiting. None
        at end of file with nothing left to do.

        One ``recv_into`` takes everything the socket holds, up to ``SIZE``: only a
        full buffer means more may be waiting. (The earlier ``select`` after every
        receive asked again about requests that could only have arrived in the
        microseconds between the two calls; those now wait for the next transaction.)"""
        requests = _frames(self.buffer)
        n = 0
        while not requests:
            n = self.sock.recv_into(self.chunk)
            if not n:
                return None
            self.buffer += self.view[:n]
            requests = _frames(self.buffer)
        while n == self.SIZE:
            try:
                n = self.sock.recv_into(self.chunk, 0, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            self.buffer += self.view[:n]  # n == 0 (end of file): seen by the next call
        return requests + _frames(self.buffer) if self.buffer else requests


def _frame(obj: Any) -> bytes:
    try:
        payload = marshal.dumps(obj)
    except ValueError:  # not plain values only: pickle writes anything it can import
        payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        return _HEADER.pack(len(payload) | _PICKLED) + payload
    return _HEADER.pack(len(payload)) + payload


def child_main(fd: int) -> None:
    sock = socket.socket(fileno=fd)
    writer = _Writer()
    inbox = _Inbox(sock)
    try:
        while (requests := inbox.receive()) is not None:
            # The replies of one transaction travel as ONE frame (a list): one dump
            # here and one load in the parent per transaction, not per batch.
            try:
                sock.sendall(_frame(writer.handle(requests)))
            except OSError:  # the parent is gone
                break
    finally:
        writer.close()


# ---------------------------------------------------------------------- the parent's side
class _Replies(asyncio.Protocol):
    """Resolves the pending futures (or calls the pending ``on_done``), in order, as the
    child's replies arrive."""

    def __init__(self) -> None:
        self.pending: collections.deque[tuple[asyncio.Future[Any] | None, OnDone | None]] = (
            collections.deque()
        )
        self.buffer = bytearray()
        self.lost = False
        self.closed = asyncio.get_running_loop().create_future()
        self.drained: asyncio.Future[None] | None = None
        """Set by ``WriterProcess.stop``: resolved once nothing is pending."""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        pending = self.pending
        for ok, value in chain.from_iterable(_frames(self.buffer)):
            future, on_done = pending.popleft()
            error = None if ok else _error(value)
            if on_done is not None:  # a call_then: no future
                on_done(error)
                continue
            assert future is not None
            if future.done():  # the caller stopped waiting; the work was done anyway
                continue
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)
        if self.drained is not None and not pending and not self.drained.done():
            self.drained.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        while self.pending:
            future, on_done = self.pending.popleft()
            if on_done is not None:
                on_done(_exited())
            if future is not None and not future.done():
                future.set_exception(_exited())
        for waiter in (self.closed, self.drained):
            if waiter is not None and not waiter.done():
                waiter.set_result(None)


def _error(message: str) -> Exception:
    full = any(sign in message for sign in NO_SPACE_SIGNS)
    return storage_full("SQLite write", message) if full else StorageError(message)


def _exited() -> StorageError:
    return StorageError("The SQLite writer process exited; no further writes are possible.")


class WriterProcess:
    """The parent's handle on the child: ``call`` queues a request at once and returns
    the future of its reply; requests are carried out in call order."""

    def __init__(
        self, proc: subprocess.Popen[bytes], transport: asyncio.Transport, replies: _Replies
    ) -> None:
        self.proc = proc
        self._transport = transport
        self._replies = replies
        # Requests of one event-loop step go out in one send at its end: after a group
        # is published its callers' next commits all arrive in the same step.
        self._outgoing: list[bytes] = []

    @classmethod
    async def start(cls, path: Path) -> WriterProcess:
        parent, child = socket.socketpair()
        try:
            proc = subprocess.Popen(
                # The path is for ps and kill (the child is told it by "open").
                [sys.executable, "-m", __name__, str(child.fileno()), str(path)],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                env=_child_env(),
            )
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        parent.setblocking(False)
        loop = asyncio.get_running_loop()
        transport, replies = await loop.connect_accepted_socket(_Replies, sock=parent)
        writer = cls(proc, transport, replies)
        try:
            await writer.call("open", str(path))
        except BaseException:
            await writer.stop()
            raise
        return writer

    def call(self, op: str, *args: Any) -> asyncio.Future[Any]:
        """Queue ``op``, sent at the end of this event-loop step."""
        if self._replies.lost or self._transport.is_closing():
            raise _exited()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._outgoing:
            loop.call_soon(self._send)
        self._outgoing.append(_frame((op, args)))
        self._replies.pending.append((future, None))
        return future

    def call_then(self, op: str, args: tuple[Any, ...], on_done: OnDone) -> None:
        """Send ``op`` now, after whatever this step queued before it; ``on_done(error
        or None)`` is called from the reply's arrival itself (no future, no task hop).
        The committer calls this at the end of a loop step already."""
        if self._replies.lost or self._transport.is_closing():
            raise _exited()
        self._outgoing.append(_frame((op, args)))
        self._replies.pending.append((None, on_done))
        self._send()

    def _send(self) -> None:
        outgoing = self._outgoing
        if not outgoing:  # a call_then sent it already
            return
        self._outgoing = []
        if not self._transport.is_closing():  # else connection_lost fails the callers
            self._transport.write(outgoing[0] if len(outgoing) == 1 else b"".join(outgoing))

    async def stop(self) -> None:
        """Let the child finish what is queued, then end it (end of file) and reap it."""
        replies = self._replies
        if replies.pending and not replies.lost:
            replies.drained = asyncio.get_running_loop().create_future()
            await replies.drained
        self._transport.close()
        await asyncio.shield(self._replies.closed)
        deadline = time.monotonic() + 30
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
            await asyncio.sleep(0.002)


def _child_env() -> dict[str, str]:
    """The child imports this module from wherever the parent found it."""
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


if __name__ == "__main__":
    child_main(int(sys.argv[1]))
