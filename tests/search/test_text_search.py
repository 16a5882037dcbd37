"""Full-text search: BM25 ranking against a brute-force reference, prefix, filters,
limits, snapshots, own writes, restarts."""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path

import pytest

from pyconvex.errors import InvalidQueryError
from pyconvex.search import tokenize
from pyconvex.testing import ConvexTest

APP = Path(__file__).resolve().parents[1] / "fixtures" / "searchapp" / "convex"
WORDS = ["apple", "banana", "cherry", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mango", "nectar", "orange", "papaya"]


def corpus(n: int = 120) -> list[str]:
    rng = random.Random(42)
    return [" ".join(rng.choices(WORDS, k=rng.randint(3, 12))) for _ in range(n)]


def bm25_reference(docs: list[str], query: str) -> list[tuple[str, float]]:
    """Textbook BM25 (k1 = 1.2, b = 0.75, IDF = ln(1 + (N - df + .5) / (df + .5)))."""
    tokenized = [tokenize(d) for d in docs]
    n = len(docs)
    avg = sum(len(t) for t in tokenized) / n
    df = Counter(term for t in tokenized for term in set(t))
    terms = tokenize(query)
    out = []
    for doc, tokens in zip(docs, tokenized, strict=True):
        tf = Counter(tokens)
        score = 0.0
        for term in terms:
            if tf[term]:
                idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                score += idf * tf[term] * 2.2 / (tf[term] + 1.2 * (0.25 + 0.75 * len(tokens) / avg))
        if score > 0:
            out.append((doc, score))
    return sorted(out, key=lambda x: -x[1])


async def test_ranking_matches_brute_force_bm25() -> None:
    docs = corpus()
    async with ConvexTest(APP) as t:
        for body in docs:
            await t.mutation("messages:send", {"body": body, "channel": "c"})
        for query in ("apple banana", "zebra cherry", "mango mango orange", "kilo"):
            expected = bm25_reference(docs, query + " zzzz")  # a last term matching nothing
            got = await t.query("messages:search", {"text": query + " zzzz"})
            assert len(got) == len(expected)
            # same scores, position by position (ties may order differently)
            ref_scores = [s for _, s in expected]
            index = t.deployment.db.search.text[("messages", "search_body")]
            scores = [s for _, s in index.search(t.deployment.db.latest_ts, query + " zzzz", [], {})]
            assert scores == pytest.approx(ref_scores)  # the snapshot path
            fast = [s for _, s in index.search_newest(query + " zzzz", [])]
            assert fast == pytest.approx(ref_scores)  # the newest-state (NumPy) path
            assert set(got) == {d for d, _ in expected}


async def test_prefix_filters_limits_and_pagination() -> None:
    async with ConvexTest(APP) as t:
        await t.mutation("messages:send", {"body": "hello world", "channel": "a"})
        await t.mutation("messages:send", {"body": "help me", "channel": "b"})
        await t.mutation("messages:send", {"body": "goodbye world", "channel": "a"})
        assert sorted(await t.query("messages:search", {"text": "hel"})) == ["hello world", "help me"]
        assert await t.query("messages:search", {"text": "world hel", "channel": "b"}) == ["help me"]
        assert await t.query("messages:search", {"text": "world", "n": 1}) in (["hello world"], ["goodbye world"])
        assert await t.query("messages:search", {"text": "nothing"}) == []
        with pytest.raises(InvalidQueryError, match="at most 16 search terms"):
            await t.query("messages:search", {"text": " ".join(["w"] * 17)})
        first = await t.query("messages:search_page", {"text": "world", "paginationOpts": {"numItems": 1, "cursor": None}})
        assert len(first["page"]) == 1 and not first["isDone"]
        second = await t.query("messages:search_page", {"text": "world", "paginationOpts": {
            "numItems": 5, "cursor": first["continueCursor"]}})
        assert len(second["page"]) == 1 and second["isDone"]
        assert first["page"][0]["_id"] != second["page"][0]["_id"]


async def test_bad_search_queries_are_named() -> None:
    async with ConvexTest(APP) as t:
        async def wrong_field(ctx):  # type: ignore[no-untyped-def]
            return await ctx.db.query("messages").with_search_index(
                "search_body", lambda q: q.search("channel", "x")).collect()

        with pytest.raises(InvalidQueryError, match="search field is 'body'"):
            await t.run(wrong_field)

        async def wrong_filter(ctx):  # type: ignore[no-untyped-def]
            return await ctx.db.query("messages").with_search_index(
                "search_body", lambda q: q.search("body", "x").eq("body", "y")).collect()

        with pytest.raises(InvalidQueryError, match="'body' is not a filter field"):
            await t.run(wrong_filter)

        async def missing(ctx):  # type: ignore[no-untyped-def]
            return await ctx.db.query("messages").with_search_index("nope", lambda q: q).collect()

        with pytest.raises(InvalidQueryError, match="no search index 'nope'"):
            await t.run(missing)


async def test_snapshots_and_own_writes() -> None:
    async with ConvexTest(APP) as t:
        await t.mutation("messages:send", {"body": "alpha one", "channel": "a"})
        db = t.deployment.db
        before = db.latest_ts
        await t.mutation("messages:send", {"body": "alpha two", "channel": "a"})
        old = db.begin(writable=False, ts=before)
        found = await db.search.text_search(old, "messages", "search_body", lambda q: q.search("body", "alpha"))
        assert len(found) == 1  # a query never sees a later commit
        mine = await t.mutation("messages:insert_then_search", {"body": "alpha three", "text": "alpha"})
        assert sorted(mine) == ["alpha one", "alpha three", "alpha two"]  # a mutation sees its own write


async def test_rebuilt_from_the_log_after_a_restart(db_url: str) -> None:
    from pyconvex.deployment import Deployment

    d = await Deployment.open(db_url, APP)
    await d.runner.run_mutation("messages:send", {"body": "persistent words", "channel": "a"})
    await d.close()
    d = await Deployment.open(db_url, APP)
    try:
        assert (await d.runner.run_query("messages:search", {"text": "words"})).value == ["persistent words"]
    finally:
        await d.close()


async def test_a_search_index_added_by_schema_push_is_backfilled(tmp_path: Path, db_url: str) -> None:
    import shutil

    from pyconvex.deployment import Deployment

    app = tmp_path / "convex"
    shutil.copytree(APP, app)
    schema = app / "schema.py"
    original = schema.read_text()
    schema.write_text(original.replace(
        '.search_index("search_body", search_field="body", filter_fields=["channel"])', ""))
    d = await Deployment.open(db_url, app)
    try:
        await d.runner.run_mutation("messages:send", {"body": "older document", "channel": "a"})
        schema.write_text(original)
        await d.load(app)
        assert (await d.runner.run_query("messages:search", {"text": "older"})).value == ["older document"]
    finally:
        await d.close()


async def test_at_most_eight_filters() -> None:
    async with ConvexTest(APP) as t:
        async def nine(ctx):  # type: ignore[no-untyped-def]
            def build(q):  # type: ignore[no-untyped-def]
                q = q.search("body", "x")
                for i in range(9):
                    q = q.eq("channel", str(i))
                return q

            return await ctx.db.query("messages").with_search_index("search_body", build).collect()

        with pytest.raises(InvalidQueryError, match="at most 8 filters"):
            await t.run(nine)
