"""Full-text search with Convex's semantics: BM25 ranking, prefix match on the last term,
equality filters, at most 16 terms, 8 filters and 1,024 results.

An in-memory inverted index, chosen by measurement over SQLite FTS5 and tantivy (see
docs/search.md): it can answer at any snapshot timestamp and overlay a transaction's
own uncommitted writes, which an external engine's single current state cannot.
Postings are a superset (every document that ever held the term); each candidate is
checked against its version at the snapshot. Statistics for BM25 (document count,
lengths, document frequencies) are those of the newest state.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson
from sortedcontainers import SortedList  # type: ignore[import-untyped]

from pyconvex.search.versions import Versions
from pyconvex.values import convex_to_json

MAX_TERMS = 16
MAX_FILTERS = 8
MAX_RESULTS = 1024
MAX_TERM_LENGTH = 32
K1 = 1.2
B = 0.75
_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    return [t[:MAX_TERM_LENGTH] for t in _TOKEN.findall(text.lower())]


def filter_key(value: Any) -> bytes:
    """Filter values compare as Convex values (1 and 1.0 differ, like in indexes)."""
    return orjson.dumps(convex_to_json(value), option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True, slots=True)
class TextEntry:
    terms: Counter[str]
    length: int
    filters: dict[str, bytes]


def get_field(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


class TextIndex:
    def __init__(self, search_field: str, filter_fields: tuple[str, ...]) -> None:
        self.search_field = search_field
        self.filter_fields = filter_fields
        self.versions: Versions[TextEntry] = Versions()
        self.postings: dict[str, set[str]] = {}
        self.terms: SortedList = SortedList()
        self.live = 0
        self.total_length = 0
        self.df: Counter[str] = Counter()

    def entry(self, doc: dict[str, Any] | None) -> TextEntry | None:
        if doc is None:
            return None
        text = get_field(doc, self.search_field)
        tokens = tokenize(text) if isinstance(text, str) else []
        filters = {f: filter_key(get_field(doc, f)) for f in self.filter_fields}
        return TextEntry(Counter(tokens), len(tokens), filters)

    def apply(self, ts: int, doc_id: str, doc: dict[str, Any] | None) -> None:
        entry = self.entry(doc)
        previous = self.versions.put(doc_id, ts, entry)
        if previous is not None:
            self.live -= 1
            self.total_length -= previous.length
            self.df.subtract(previous.terms.keys())
        if entry is not None:
            self.live += 1
            self.total_length += entry.length
            self.df.update(entry.terms.keys())
            for term in entry.terms:
                docs = self.postings.get(term)
                if docs is None:
                    docs = self.postings[term] = set()
                    self.terms.add(term)
                docs.add(doc_id)

    def _expand(self, prefix: str) -> list[str]:
        return list(self.terms.irange(prefix, prefix + "\U0010ffff"))

    def search(
        self,
        ts: int,
        query: str,
        filters: list[tuple[str, Any]],
        overlay: dict[str, dict[str, Any] | None],
        limit: int = MAX_RESULTS,
    ) -> list[tuple[str, float]]:
        """``[(doc_id, score)]`` best first: documents at ``ts`` (with ``overlay`` taking
        precedence) matching at least one term and every filter."""
        terms = tokenize(query)
        if not terms:
            return []
        exact, last = terms[:-1], terms[-1]
        last_matches = set(self._expand(last)) | {last}
        wanted = [(f, filter_key(v)) for f, v in filters]
        candidates: set[str] = set()
        for term in [*exact, *last_matches]:
            candidates |= self.postings.get(term, set())
        candidates |= overlay.keys()
        n = max(self.live, 1)
        avg = self.total_length / n if self.live else 1.0

        def idf(term: str) -> float:
            df = max(self.df.get(term, 0), 0)
            return math.log(1 + (n - df + 0.5) / (df + 0.5))

        scored: list[tuple[float, str]] = []
        for doc_id in candidates:
            entry = self.entry(overlay[doc_id]) if doc_id in overlay else self.versions.at(doc_id, ts)
            if entry is None or any(entry.filters.get(f) != v for f, v in wanted):
                continue
            score = 0.0
            norm = K1 * (1 - B + B * entry.length / avg) if avg else K1
            for term in exact:
                tf = entry.terms.get(term, 0)
                if tf:
                    score += idf(term) * tf * (K1 + 1) / (tf + norm)
            best = 0.0
            for term in last_matches:
                tf = entry.terms.get(term, 0)
                if tf:
                    best = max(best, idf(term) * tf * (K1 + 1) / (tf + norm))
            score += best
            if score > 0:
                scored.append((-score, doc_id))
        scored.sort()
        return [(doc_id, -neg) for neg, doc_id in scored[: min(limit, MAX_RESULTS)]]
