"""Search figures, and the measurement behind the engine choice.

    .venv/bin/python bench/search.py --runs 3

a. text search queries/s on 20k documents: pyconvex's in-memory index (snapshot-exact),
   SQLite FTS5 and tantivy (both BM25, current state only), same corpus and queries.
b. durable insert mutations/s into a table with a search index vs without (ratio).
c. vector top-10 latency (ms) at 10k (exact NumPy) and 100k (HNSW) 128-d vectors, and
   the approximate index's recall@10 at 100k.
d. rebuild time per 100k documents (the index built from the log on start).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyconvex.deployment import Deployment
from pyconvex.search import TextIndex, VectorIndex

WORDS = [f"w{i}" for i in range(5000)]
APP = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "searchapp" / "convex"


def corpus(n: int) -> list[str]:
    rng = random.Random(1)
    return [" ".join(rng.choices(WORDS[: 200 + rng.randint(0, 4800)], k=rng.randint(5, 30))) for _ in range(n)]


def queries(n: int) -> list[str]:
    rng = random.Random(2)
    return [" ".join(rng.choices(WORDS[:1000], k=2)) for _ in range(n)]


def text_qps(docs: list[str], qs: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    index = TextIndex("body", ())
    for i, body in enumerate(docs):
        index.apply(1, f"d{i}", {"body": body})
    start = time.perf_counter()
    for q in qs:
        index.search_newest(q, [], limit=10)
    out["pyconvex, newest state (NumPy)"] = len(qs) / (time.perf_counter() - start)
    start = time.perf_counter()
    for q in qs[:200]:
        index.search(1, q, [], {}, limit=10)
    out["pyconvex, past snapshot (per-version path)"] = 200 / (time.perf_counter() - start)
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(body)")
    conn.executemany("INSERT INTO t (body) VALUES (?)", [(d,) for d in docs])
    start = time.perf_counter()
    for q in qs:
        conn.execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT 10",
                     (" OR ".join(q.split()),)).fetchall()
    out["SQLite FTS5"] = len(qs) / (time.perf_counter() - start)
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", stored=False)
    schema = builder.build()
    tindex = tantivy.Index(schema)
    writer = tindex.writer()
    for d in docs:
        writer.add_document(tantivy.Document(body=d))
    writer.commit()
    tindex.reload()
    searcher = tindex.searcher()
    start = time.perf_counter()
    for q in qs:
        searcher.search(tindex.parse_query(q, ["body"]), 10)
    out["tantivy"] = len(qs) / (time.perf_counter() - start)
    return out


async def inserts(with_index: bool, seconds: float) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "convex"
        app.mkdir()
        schema = (APP / "schema.py").read_text()
        if not with_index:
            schema = schema.replace('.search_index("search_body", search_field="body", filter_fields=["channel"])', "")
            schema = schema.replace('.vector_index("by_embedding", vector_field="embedding", dimensions=4, filter_fields=["channel"])', "")
        (app / "schema.py").write_text(schema)
        (app / "messages.py").write_text((APP / "messages.py").read_text())
        d = await Deployment.open(f"sqlite:///{tmp}/db.sqlite3", app)
        docs = corpus(2000)
        done = 0
        stop = time.perf_counter() + seconds

        async def worker(w: int) -> None:
            nonlocal done
            i = w
            while time.perf_counter() < stop:
                await d.runner.run_mutation("messages:send", {"body": docs[i % len(docs)], "channel": "c"})
                done += 1
                i += 16
                if with_index and done % 50 == 0:  # searches keep the index current
                    await d.runner.run_query("messages:search", {"text": "w1 w2", "n": 1})

        try:
            start = time.perf_counter()
            await asyncio.gather(*(worker(w) for w in range(16)))
            if with_index:  # the index must have taken in everything inserted
                await d.runner.run_query("messages:search", {"text": "w1", "n": 1})
            return done / (time.perf_counter() - start)
        finally:
            await d.close()


def vector_latency(n: int) -> tuple[float, float]:
    rng = np.random.default_rng(3)
    data = rng.normal(size=(n, 128)).astype(np.float32)
    index = VectorIndex("v", 128, ())
    for i, row in enumerate(data):
        index.apply(1, f"d{i}", {"v": row.tolist()})
    qs = rng.normal(size=(100, 128)).astype(np.float32)
    index.search(1, qs[0].tolist(), 10, lambda f: True, {}, newest=True)  # builds HNSW if large
    times = []
    hits = 0
    normed = data / np.linalg.norm(data, axis=1, keepdims=True)
    for q in qs:
        t = time.perf_counter()
        found = index.search(1, q.tolist(), 10, lambda f: True, {}, newest=True)
        times.append((time.perf_counter() - t) * 1000)
        truth = {f"d{i}" for i in np.argsort(-(normed @ (q / np.linalg.norm(q))))[:10]}
        hits += len(truth & {d for d, _ in found})
    return statistics.median(times), hits / (10 * len(qs))


async def rebuild_per_100k(n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        d = await Deployment.open(f"sqlite:///{tmp}/db.sqlite3", APP)
        docs = corpus(n)
        for start in range(0, n, 5000):
            async def body(ctx, txn, chunk=docs[start:start + 5000]):  # type: ignore[no-untyped-def]
                for text in chunk:
                    await ctx.db.insert("messages", {"body": text, "channel": "c"})
            await d.runner.run_in_transaction(body, "seed")
        await d.close()
        d = await Deployment.open(f"sqlite:///{tmp}/db.sqlite3", APP)
        try:
            t = time.perf_counter()
            await d.db.search.ensure(d.db.latest_ts)
            return (time.perf_counter() - t) * 100_000 / n
        finally:
            await d.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        rows.setdefault(name, []).append(value)

    docs, qs = corpus(20_000), queries(2000)
    for _ in range(args.runs):
        for engine, qps in text_qps(docs, qs).items():
            add(f"a. text queries/s, 20k docs, {engine}", qps)
        plain = asyncio.run(inserts(False, args.seconds))
        indexed = asyncio.run(inserts(True, args.seconds))
        add("b. insert mutations/s without a search index", plain)
        add("b. insert mutations/s with search + vector indexes", indexed)
        add("b. with / without", indexed / plain)
        for n in (10_000, 100_000):
            ms, recall = vector_latency(n)
            add(f"c. vector top-10 ms, {n // 1000}k x 128-d", ms)
            add(f"c. recall@10, {n // 1000}k", recall)
        add("d. rebuild from the log, s per 100k documents", asyncio.run(rebuild_per_100k(50_000)))
    print(f"| figure | median of {args.runs} | runs |")
    print("|---|---|---|")
    for name, values in rows.items():
        print(f"| {name} | {statistics.median(values):,.3f} | {', '.join(f'{v:,.3f}' for v in values)} |")


if __name__ == "__main__":
    main()
