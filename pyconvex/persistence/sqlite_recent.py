"""The lookup keys of the session requests SQLite has not indexed yet, kept in memory.

``session_request_keys`` (``sqlite_schema.py``) is filled in batches: a key per commit
would put a B-tree page per active session into every transaction (the key begins with
the client's random session id), and the WAL pages of a transaction are what its fsync
waits for (a WebSocket transaction of ~9 mutations wrote 28 pages with the key, 16
without; decision 0018). Until its batch is indexed, a committed request is found here:
the persistence adds each one once its commit is durable, before it is published, and
at open reads back every row after the watermark (so a crash loses nothing of this).
"""

from __future__ import annotations

from collections import deque

SESSION_INDEX_BATCH = 4096
"""Session requests per indexing transaction (one fsync per batch, a page per session)."""


class RecentRequests:
    """``(session_id, request_id) -> ts`` of the durable, not yet indexed requests; the
    first of duplicates stays, as the index keeps it."""

    __slots__ = ("_by_key", "_order", "batch")

    def __init__(self, batch: int = SESSION_INDEX_BATCH) -> None:
        self.batch = batch
        self._by_key: dict[tuple[str, int], int] = {}
        self._order: deque[tuple[int, tuple[str, int]]] = deque()

    def add(self, ts: int, session_id: str, request_id: int) -> None:
        """A durable request (timestamps increase from call to call)."""
        key = (session_id, request_id)
        self._by_key.setdefault(key, ts)
        self._order.append((ts, key))

    def get(self, session_id: str, request_id: int) -> int | None:
        return self._by_key.get((session_id, request_id))

    def due(self) -> int | None:
        """The timestamp to index through, once a batch has gathered."""
        return self._order[-1][0] if len(self._order) >= self.batch else None

    def forget_through(self, ts: int) -> None:
        """Requests up to ``ts`` are indexed (or deleted): no longer looked up here."""
        order, by_key = self._order, self._by_key
        while order and order[0][0] <= ts:
            at, key = order.popleft()
            if by_key.get(key) == at:
                del by_key[key]

    def __len__(self) -> int:
        return len(self._order)
