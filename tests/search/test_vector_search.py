"""Vector search: exact top-k equals brute force, filters before the limit, errors,
the approximate index's recall, reactivity in queries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pyconvex.errors import InvalidQueryError
from pyconvex.search import VectorIndex
from pyconvex.testing import ConvexTest

APP = Path(__file__).resolve().parents[1] / "fixtures" / "searchapp" / "convex"


def brute_force(vectors: dict[str, np.ndarray], q: np.ndarray, k: int) -> list[str]:
    qn = q / np.linalg.norm(q)
    scores = {i: float(v @ qn / np.linalg.norm(v)) for i, v in vectors.items()}
    return [i for i, _ in sorted(scores.items(), key=lambda x: -x[1])[:k]]


async def test_exact_top_k_with_filters_before_the_limit() -> None:
    rng = np.random.default_rng(1)
    async with ConvexTest(APP) as t:
        vectors: dict[str, np.ndarray] = {}
        channels: dict[str, str] = {}
        for i in range(60):
            vec = rng.normal(size=4)
            channel = "a" if i % 3 else "b"
            doc_id = await t.mutation("messages:send", {"body": f"m{i}", "channel": channel,
                                                        "embedding": vec.tolist()})
            vectors[doc_id], channels[doc_id] = vec, channel
        q = rng.normal(size=4)
        found = await t.action("messages:similar", {"vector": q.tolist(), "limit": 10})
        assert [r["_id"] for r in found] == brute_force(vectors, q, 10)
        assert found[0]["_score"] >= found[-1]["_score"]
        only_b = {i: v for i, v in vectors.items() if channels[i] == "b"}  # 20 of them
        found_b = await t.action("messages:similar", {"vector": q.tolist(), "limit": 15, "channels": ["b"]})
        assert [r["_id"] for r in found_b] == brute_force(only_b, q, 15)  # filtered, then limited
        both = await t.action("messages:similar", {"vector": q.tolist(), "limit": 5, "channels": ["a", "b"]})
        assert [r["_id"] for r in both] == brute_force(vectors, q, 5)
        with pytest.raises(InvalidQueryError, match="has 3 dimensions; index 'by_embedding' on 'messages' has 4"):
            await t.action("messages:similar", {"vector": [1.0, 2.0, 3.0], "limit": 5})
        with pytest.raises(InvalidQueryError, match=r"limit must be an integer 1\.\.256"):
            await t.action("messages:similar", {"vector": q.tolist(), "limit": 257})


async def test_vector_search_in_a_query_is_snapshot_exact() -> None:
    async with ConvexTest(APP) as t:
        a = await t.mutation("messages:send", {"body": "a", "channel": "c", "embedding": [1.0, 0, 0, 0]})
        assert await t.query("messages:similar_live", {"vector": [1.0, 0, 0, 0], "limit": 2}) == [a]
        b = await t.mutation("messages:send", {"body": "b", "channel": "c", "embedding": [0.9, 0.1, 0, 0]})
        assert await t.query("messages:similar_live", {"vector": [1.0, 0, 0, 0], "limit": 2}) == [a, b]


@pytest.mark.one_backend  # an in-memory structure: no database
def test_the_approximate_index_keeps_recall_at_10_above_095() -> None:
    """25k random 128-d vectors (above the HNSW threshold); bench/search.py measures 100k."""
    rng = np.random.default_rng(7)
    index = VectorIndex("v", 128, ())
    data = rng.normal(size=(25_000, 128)).astype(np.float32)
    for i, row in enumerate(data):
        index.apply(1, f"d{i}", {"v": row.tolist()})
    normed = data / np.linalg.norm(data, axis=1, keepdims=True)
    hits = 0
    queries = rng.normal(size=(50, 128)).astype(np.float32)
    for q in queries:
        truth = {f"d{i}" for i in np.argsort(-(normed @ (q / np.linalg.norm(q))))[:10]}
        found = index.search(1, q.tolist(), 10, lambda f: True, {}, newest=True)
        hits += len(truth & {d for d, _ in found})
    assert hits / (10 * len(queries)) >= 0.95
