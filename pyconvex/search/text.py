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

import numpy as np
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
        # The newest state, for the fast path: term -> {doc number: tf}, as arrays on use.
        self._numbers: dict[str, int] = {}
        self._doc_ids: list[str] = []
        self._lengths = np.zeros(0, dtype=np.float64)
        self._current: dict[str, dict[int, int]] = {}
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def entry(self, doc: dict[str, Any] | None) -> TextEntry | None:
        if doc is None:
            return None
        text = get_field(doc, self.search_field)
        tokens = tokenize(text) if isinstance(text, str) else []
        filters = {f: filter_key(get_field(doc, f)) for f in self.filter_fields}
        return TextEntry(Counter(tokens), len(tokens), filters)

    def _number(self, doc_id: str) -> int:
        number = self._numbers.get(doc_id)
        if number is None:
            number = self._numbers[doc_id] = len(self._doc_ids)
            self._doc_ids.append(doc_id)
            if number >= len(self._lengths):
                grown = np.zeros(max(64, 2 * len(self._lengths)), dtype=np.float64)
                grown[: len(self._lengths)] = self._lengths
                self._lengths = grown
        return number

    def apply(self, ts: int, doc_id: str, doc: dict[str, Any] | None) -> None:
        entry = self.entry(doc)
        previous = self.versions.put(doc_id, ts, entry)
        if entry is not None:  # postings: every document that ever held the term
            for term in entry.terms:
                docs = self.postings.get(term)
                if docs is None:
                    docs = self.postings[term] = set()
                    self.terms.add(term)
                docs.add(doc_id)
        if previous is None and self.versions.latest(doc_id) is not entry:
            return  # an older version arriving late (a rebuild): the newest state stands
        number = self._number(doc_id)
        if previous is not None:
            self.live -= 1
            self.total_length -= previous.length
            self.df.subtract(previous.terms.keys())
            for term in previous.terms:
                self._current.get(term, {}).pop(number, None)
                self._arrays.pop(term, None)
            self._lengths[number] = 0
        if entry is not None:
            self.live += 1
            self.total_length += entry.length
            self.df.update(entry.terms.keys())
            self._lengths[number] = entry.length
            for term, tf in entry.terms.items():
                self._current.setdefault(term, {})[number] = tf
                self._arrays.pop(term, None)

    def _array(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        found = self._arrays.get(term)
        if found is None:
            current = self._current.get(term, {})
            found = (np.fromiter(current.keys(), dtype=np.int64, count=len(current)),
                     np.fromiter(current.values(), dtype=np.float64, count=len(current)))
            self._arrays[term] = found
        return found

    def search_newest(
        self, query: str, filters: list[tuple[str, Any]], limit: int = MAX_RESULTS
    ) -> list[tuple[str, float]]:
        """The same answer as ``search`` for the newest state, scored with NumPy."""
        terms = tokenize(query)
        if not terms or not self.live:
            return []
        exact, last = terms[:-1], terms[-1]
        n = self.live
        avg = self.total_length / n or 1.0
        count = len(self._doc_ids)
        lengths = self._lengths[:count]
        scores = np.zeros(count, dtype=np.float64)

        def contribution(term: str) -> tuple[np.ndarray, np.ndarray]:
            docs, tfs = self._array(term)
            df = self.df.get(term, 0)
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            norm = K1 * (1 - B + B * lengths[docs] / avg)
            return docs, idf * tfs * (K1 + 1) / (tfs + norm)

        for term in exact:
            docs, values = contribution(term)
            np.add.at(scores, docs, values)
        best = np.zeros(count, dtype=np.float64)
        for term in {last, *self._expand(last)}:
            docs, values = contribution(term)
            np.maximum.at(best, docs, values)
        scores += best
        hits = np.nonzero(scores > 0)[0]
        order = hits[np.lexsort((hits, -scores[hits]))]
        wanted = [(f, filter_key(v)) for f, v in filters]
        out: list[tuple[str, float]] = []
        for number in order:
            doc_id = self._doc_ids[int(number)]
            if wanted:
                entry = self.versions.latest(doc_id)
                if entry is None or any(entry.filters.get(f) != v for f, v in wanted):
                    continue
            out.append((doc_id, float(scores[number])))
            if len(out) >= min(limit, MAX_RESULTS):
                break
        return out

    def _expand(self, prefix: str) -> list[str]:
        return list(self.terms.irange(prefix, prefix + "\U0010ffff"))

    def search(
        self,
        ts: int,
        query: str,
        filters: list[tuple[str, Any]],
        overlay: dict[str, dict[str, Any] | None],
        limit: int = MAX_RESULTS,
        only_overlay: bool = False,
    ) -> list[tuple[str, float]]:
        """``[(doc_id, score)]`` best first: documents at ``ts`` (with ``overlay`` taking
        precedence) matching at least one term and every filter (``only_overlay``: score
        just the overlaid documents)."""
        terms = tokenize(query)
        if not terms:
            return []
        exact, last = terms[:-1], terms[-1]
        last_matches = set(self._expand(last)) | {last}
        wanted = [(f, filter_key(v)) for f, v in filters]
        candidates: set[str] = set()
        if not only_overlay:
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
