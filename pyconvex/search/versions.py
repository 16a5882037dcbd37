"""Per-document version lists: ``[(ts, entry or None)]`` in timestamp order."""

from __future__ import annotations

from bisect import bisect_right
from typing import Generic, TypeVar

E = TypeVar("E")


class Versions(Generic[E]):
    __slots__ = ("_by_doc",)

    def __init__(self) -> None:
        self._by_doc: dict[str, tuple[list[int], list[E | None]]] = {}

    def put(self, doc_id: str, ts: int, entry: E | None) -> E | None:
        """Record a version; returns the entry it replaces as the newest (or None)."""
        tss, entries = self._by_doc.setdefault(doc_id, ([], []))
        previous = entries[-1] if entries else None
        if tss and ts < tss[-1]:  # out of order (a rebuild): insert in place
            i = bisect_right(tss, ts)
            tss.insert(i, ts)
            entries.insert(i, entry)
            return None
        tss.append(ts)
        entries.append(entry)
        return previous

    def at(self, doc_id: str, ts: int) -> E | None:
        found = self._by_doc.get(doc_id)
        if found is None:
            return None
        tss, entries = found
        i = bisect_right(tss, ts)
        return entries[i - 1] if i else None

    def latest(self, doc_id: str) -> E | None:
        found = self._by_doc.get(doc_id)
        return found[1][-1] if found and found[1] else None

    def ids(self) -> list[str]:
        return list(self._by_doc)

    def __len__(self) -> int:
        return len(self._by_doc)
