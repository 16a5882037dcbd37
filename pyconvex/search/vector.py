"""Vector search: cosine similarity, equality filters applied before the limit.

Exact search with NumPy over the newest state (a dense matrix kept up to date), and an
approximate HNSW index (usearch) once the index holds more than ``HNSW_THRESHOLD``
vectors. Older snapshots and transactions with their own writes are answered exactly
from the per-document versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pyconvex.search.text import filter_key, get_field
from pyconvex.search.versions import Versions

HNSW_THRESHOLD = 20_000
OVERSAMPLE = 4
MIN_CANDIDATES = 100


@dataclass(frozen=True, slots=True)
class VectorEntry:
    vector: np.ndarray
    filters: dict[str, bytes]


class VectorIndex:
    def __init__(self, vector_field: str, dimensions: int, filter_fields: tuple[str, ...]) -> None:
        self.vector_field = vector_field
        self.dimensions = dimensions
        self.filter_fields = filter_fields
        self.versions: Versions[VectorEntry] = Versions()
        self._rows: dict[str, int] = {}
        self._ids: list[str | None] = []
        self._matrix = np.zeros((0, dimensions), dtype=np.float32)
        self._count = 0
        self._hnsw: Any = None
        self._hnsw_dirty = True

    def entry(self, doc: dict[str, Any] | None) -> VectorEntry | None:
        if doc is None:
            return None
        value = get_field(doc, self.vector_field)
        if not isinstance(value, list) or len(value) != self.dimensions:
            return None  # documents without a vector of the right size are not indexed
        vector = np.asarray(value, dtype=np.float32)
        norm = float(np.linalg.norm(vector))
        if norm == 0 or not np.isfinite(norm):
            return None
        filters = {f: filter_key(get_field(doc, f)) for f in self.filter_fields}
        return VectorEntry(vector / norm, filters)

    def apply(self, ts: int, doc_id: str, doc: dict[str, Any] | None) -> None:
        entry = self.entry(doc)
        self.versions.put(doc_id, ts, entry)
        current = self.versions.latest(doc_id)
        row = self._rows.get(doc_id)
        if current is None:
            if row is not None:
                self._ids[row] = None
                self._matrix[row] = 0
                del self._rows[doc_id]
            self._hnsw_dirty = True
            return
        if row is None:
            if self._count == len(self._matrix):
                grown = np.zeros((max(16, 2 * len(self._matrix)), self.dimensions), dtype=np.float32)
                grown[: self._count] = self._matrix[: self._count]
                self._matrix = grown
            row = self._count
            self._count += 1
            self._ids.append(doc_id)
            self._rows[doc_id] = row
        self._matrix[row] = current.vector
        self._hnsw_dirty = True

    def __len__(self) -> int:
        return len(self._rows)

    def _ensure_hnsw(self) -> Any:
        if self._hnsw is not None and not self._hnsw_dirty:
            return self._hnsw
        from usearch.index import Index

        # Measured on random 128-d vectors (the hard case): connectivity 16 with a
        # search expansion of 128 gave recall@10 of 0.67; these settings give ~0.99.
        index = Index(ndim=self.dimensions, metric="cos", dtype="f32", connectivity=32,
                      expansion_add=256, expansion_search=512)
        rows = np.fromiter(self._rows.values(), dtype=np.uint64)
        if len(rows):
            index.add(rows, self._matrix[rows.astype(np.int64)])
        self._hnsw = index
        self._hnsw_dirty = False
        return index

    def search(
        self,
        ts: int,
        query: list[float],
        limit: int,
        accept: Any,
        overlay: dict[str, dict[str, Any] | None],
        newest: bool,
    ) -> list[tuple[str, float]]:
        """``[(doc_id, cosine)]`` best first; ``accept(filters)`` is the filter."""
        q = np.asarray(query, dtype=np.float32)
        q = q / (float(np.linalg.norm(q)) or 1.0)
        if newest and not overlay:
            if len(self._rows) > HNSW_THRESHOLD:
                found = self._approximate(q, limit, accept)
                if found is not None:
                    return found
            scores = self._matrix[: self._count] @ q
            order = np.argsort(-scores)
            out: list[tuple[str, float]] = []
            for row in order:
                doc_id = self._ids[row]
                if doc_id is None:
                    continue
                entry = self.versions.latest(doc_id)
                if entry is not None and accept(entry.filters):
                    out.append((doc_id, float(scores[row])))
                    if len(out) == limit:
                        break
            return out
        results: list[tuple[float, str]] = []
        for doc_id in set(self.versions.ids()) | overlay.keys():
            entry = self.entry(overlay[doc_id]) if doc_id in overlay else self.versions.at(doc_id, ts)
            if entry is not None and accept(entry.filters):
                results.append((-float(entry.vector @ q), doc_id))
        results.sort()
        return [(doc_id, -neg) for neg, doc_id in results[:limit]]

    def _approximate(self, q: np.ndarray, limit: int, accept: Any) -> list[tuple[str, float]] | None:
        index = self._ensure_hnsw()
        k = min(len(self._rows), max(limit * OVERSAMPLE, MIN_CANDIDATES))
        matches = index.search(q, k)
        out: list[tuple[str, float]] = []
        for key, distance in zip(matches.keys, matches.distances, strict=False):
            doc_id = self._ids[int(key)]
            if doc_id is None:
                continue
            entry = self.versions.latest(doc_id)
            if entry is not None and accept(entry.filters):
                out.append((doc_id, 1.0 - float(distance)))
                if len(out) == limit:
                    return out
        return None if len(out) < limit and k < len(self._rows) else out
