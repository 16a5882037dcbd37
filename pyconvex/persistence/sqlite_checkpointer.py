"""The SQLite writer child's checkpointer: a thread that copies the WAL into the
database file off the commit path (``sqlite_writer.py`` owns the writer connection and
calls :meth:`Checkpointer.committed` after each commit). Kept apart so the writer's
module stays about the write path and its protocol."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path

from pyconvex.persistence import sqlite_schema as schema

# SQLite's automatic checkpoint runs inside the COMMIT that crosses its threshold (1,000
# WAL pages by default): that commit's callers wait while every page the log holds is
# copied into the database file and the file is fsynced. Under insert load that was
# every ~15 ms. Here a thread of the child does the copying, PASSIVE (it blocks neither
# the writer nor a reader), on a connection of its own, once this many rows were
# committed since the last round, or this many transactions, whichever comes first.
# Fewer, larger rounds also copy a page that many commits touched (the tail of
# ``documents_by_ts``, b-tree interior pages) once.
#
# Rows alone do not measure the log: every transaction writes at least a page per
# b-tree it changes, however few rows it holds. A hot document's increments (3 rows,
# about 3 pages each) filled 64 MiB of log, up to the writer's own automatic
# checkpoint, before 8,000 rows were reached, and a log that grows costs every commit
# more: its fsync also commits the file's new size (ext4's journal), about 70 µs a
# commit more than overwriting frames of an earlier round (on the 2026-12-06 machines).
# Counting transactions too keeps such a log at a few MiB: 16 tasks on one document
# went from ~2,400 increments/s, while the log grew, to ~3,400/s once it was reused;
# insert load crosses 8,000 rows in about 300 transactions, so its rounds do not change
# (bench/RESULTS.md, "Sixth pass").
#
# A round cannot finish the log while the writer keeps appending to it, and SQLite
# starts the log over from its beginning only once every frame is in the database file.
# So after a round, the writer checkpoints the few frames appended meanwhile itself,
# right after its next commit (that is cheap); its next transaction then restarts the
# log instead of growing it. The writer's own automatic checkpoint stays as a backstop.
CHECKPOINT_EVERY_ROWS = 8_000
CHECKPOINT_EVERY_TRANSACTIONS = 256
WRITER_AUTOCHECKPOINT_PAGES = 16_384


class Checkpointer:
    """A thread copying the WAL into the database file, off the commit path. SQLite
    releases the GIL while it checkpoints, so this runs beside the writer's next batch."""

    def __init__(self, path: Path) -> None:
        self.conn = schema.connect(path)
        self.wake = threading.Event()
        self.finished = threading.Event()
        self.running = False
        self.stopping = False
        self.rows = 0
        self.transactions = 0
        self.thread = threading.Thread(target=self._run, name="pyconvex-checkpoint", daemon=True)
        self.thread.start()

    def committed(self, conn: sqlite3.Connection, rows: int) -> None:
        """Called by the writer after each commit, on its connection."""
        if self.finished.is_set():
            self.finished.clear()
            self.running = False
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.rows += rows
        self.transactions += 1
        if (
            self.rows >= CHECKPOINT_EVERY_ROWS
            or self.transactions >= CHECKPOINT_EVERY_TRANSACTIONS
        ) and not self.running:
            self.rows = self.transactions = 0
            self.running = True
            self.wake.set()

    def _run(self) -> None:
        while True:
            self.wake.wait()
            self.wake.clear()
            if self.stopping:
                return
            # Best effort, like SQLite's own: a checkpoint that could not finish (a
            # reader still on an old snapshot) leaves the rest to the next one.
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.finished.set()

    def close(self) -> None:
        self.stopping = True
        self.wake.set()
        self.thread.join()
        self.conn.close()
