"""A session's mutation runs once however often it is resent: its outcome is recorded
(a ``session_requests`` row in storage) in the mutation's own transaction and a resend
is answered from it."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from pyconvex import api
from pyconvex.database import Query
from pyconvex.database.catalog import SESSION_REQUESTS_TABLE
from pyconvex.database.commit_request import CommitRequest
from pyconvex.database.session_requests import (
    REQUEST_INDEX_ID,
    collect_session_requests,
    request_key,
)
from pyconvex.errors import ArgumentValidationError
from pyconvex.sync.requests import (
    CLEANUP_PASS,
    SessionRequestCollector,
    SessionRequestMismatch,
    run_session_mutation,
)
from pyconvex.testing import ConvexTest
from pyconvex.values import convex_to_json

ALICE = {"tokenIdentifier": "https://issuer.example|alice", "subject": "alice",
         "issuer": "https://issuer.example", "role": "admin"}


async def _records(t: ConvexTest) -> list[dict[str, object]]:
    rows = await t.deployment.db.persistence.oldest_session_requests(100_000)
    return [{"sessionId": r.session_id, "requestId": r.request_id} for r in rows]


async def _channels(t: ConvexTest, name: str) -> int:
    found = await t.query(api.channels.list, {})
    return sum(1 for c in found if c["name"] == name)


async def test_a_resend_is_answered_from_the_record_not_run_again(app_dir):
    async with ConvexTest(app_dir) as t:
        runner = t.deployment.runner
        first, replayed = await run_session_mutation(
            runner, "s1", 0, "channels:create", {"name": "once"}, None, is_admin=False
        )
        assert not replayed
        await t.mutation(api.channels.create, {"name": "later"})  # the head moves on
        again, replayed = await run_session_mutation(
            runner, "s1", 0, "channels:create", {"name": "once"}, None, is_admin=False
        )
        assert replayed
        assert again.value == first.value and again.ts == first.ts
        assert await _channels(t, "once") == 1
        # Another request id, or another session, is a new mutation.
        await run_session_mutation(
            runner, "s1", 1, "channels:create", {"name": "once"}, None, is_admin=False
        )
        await run_session_mutation(
            runner, "s2", 0, "channels:create", {"name": "once"}, None, is_admin=False
        )
        assert await _channels(t, "once") == 3
        assert len(await _records(t)) == 3


async def test_copies_running_at_once_commit_one(app_dir):
    """Two copies of one request in flight together (as on two processes): the one that
    loses the commit race re-runs, finds the winner's record and answers from it."""
    async with ConvexTest(app_dir) as t:
        results = await asyncio.gather(*(
            run_session_mutation(
                t.deployment.runner, "s", 7, "channels:create", {"name": "raced"}, None,
                is_admin=False,
            )
            for _ in range(8)
        ))
        assert len({r.value for r, _ in results}) == 1
        assert sum(1 for _, replayed in results if not replayed) == 1
        assert await _channels(t, "raced") == 1


async def test_a_failed_mutation_records_nothing_and_a_resend_runs_it(app_dir):
    async with ConvexTest(app_dir) as t:
        runner = t.deployment.runner
        with pytest.raises(ArgumentValidationError):
            await run_session_mutation(
                runner, "s", 0, "channels:create", {"name": 3}, None, is_admin=False
            )
        assert await _records(t) == []
        _, replayed = await run_session_mutation(
            runner, "s", 0, "channels:create", {"name": "fixed"}, None, is_admin=False
        )
        assert not replayed and await _channels(t, "fixed") == 1


async def test_a_record_answers_only_the_identity_that_made_it(app_dir):
    async with ConvexTest(app_dir) as t:
        runner = t.deployment.runner
        await run_session_mutation(
            runner, "s", 0, "channels:create", {"name": "alice's"}, ALICE, is_admin=False
        )
        # A refreshed token of the same user (other claims, same token identifier).
        refreshed = {**ALICE, "role": "user", "iat": 5}
        _, replayed = await run_session_mutation(
            runner, "s", 0, "channels:create", {"name": "alice's"}, refreshed, is_admin=False
        )
        assert replayed
        # Someone else reusing the session id is refused, and nothing of theirs runs.
        mallory = {**ALICE, "tokenIdentifier": "https://issuer.example|mallory"}
        for who, admin in ((mallory, False), (None, False), (ALICE, True)):
            with pytest.raises(SessionRequestMismatch, match="another identity"):
                await run_session_mutation(
                    runner, "s", 0, "channels:create", {"name": "other"}, who, is_admin=admin
                )
        assert await _channels(t, "other") == 0
        assert await _channels(t, "alice's") == 1


async def test_records_past_the_retention_window_are_collected(app_dir):
    async with ConvexTest(app_dir) as t:
        runner, db = t.deployment.runner, t.deployment.db
        for i in range(70):  # more than one deletion chunk
            await run_session_mutation(
                runner, "old", i, "channels:create", {"name": f"c{i}"}, None, is_admin=False
            )
        await t.advance_time(60_000)
        await run_session_mutation(
            runner, "new", 0, "channels:create", {"name": "fresh"}, None, is_admin=False
        )
        assert await collect_session_requests(db, 30_000) == 70
        left = await _records(t)
        assert [r["sessionId"] for r in left] == ["new"]
        assert await collect_session_requests(db, 30_000) == 0
        # The user's data is untouched; a resend of a collected request would run again.
        assert len(await t.query(api.channels.list, {})) == 71


async def test_the_record_adds_one_written_key_and_no_document_to_its_mutation(app_dir):
    """The record's commit cost: a row beside the commit and the key a resend is looked
    up by (for conflicts); no document and no index entry (decision 0018)."""
    async with ConvexTest(app_dir) as t:
        db = t.deployment.db
        requests: list[CommitRequest] = []
        remove = db.add_listener(lambda done: requests.extend(c.request for c in done))
        await t.mutation(api.channels.create, {"name": "plain"})
        await run_session_mutation(
            t.deployment.runner, "s", 0, "channels:create", {"name": "recorded"}, None,
            is_admin=False, may_be_resent=False,
        )
        remove()
        plain, recorded = requests
        assert plain.record is None
        assert (len(recorded.documents), len(recorded.indexes)) == (
            len(plain.documents), len(plain.indexes))
        assert len(recorded.written) == len(plain.written) + 1
        assert (REQUEST_INDEX_ID, request_key("s", 0)) in recorded.written
        assert recorded.record is not None and recorded.record[:2] == ("s", 0)
        assert [(r["sessionId"], r["requestId"]) for r in await _records(t)] == [("s", 0)]


async def test_a_mutation_that_writes_nothing_still_commits_its_record(app_dir):
    """A no-op mutation's only write is its record: it commits (and its timestamp
    becomes the head, so a restarted server never hands that timestamp out again)."""
    async with ConvexTest(app_dir) as t:
        db = t.deployment.db
        before = db.latest_ts
        result, _ = await run_session_mutation(
            t.deployment.runner, "n", 0, "counters:noop", {}, None, is_admin=False,
            may_be_resent=False,
        )
        assert result.ts > before and db.latest_ts == result.ts
        assert await db.persistence.max_ts() == result.ts
        again, replayed = await run_session_mutation(
            t.deployment.runner, "n", 0, "counters:noop", {}, None, is_admin=False
        )
        assert replayed and again.ts == result.ts


async def test_a_record_written_as_a_document_by_an_earlier_version_still_answers(app_dir):
    """Before layout 4 a record was a ``_session_requests`` document; a resend after the
    upgrade is answered from it, and retention still collects it."""
    async with ConvexTest(app_dir) as t:
        db, runner = t.deployment.db, t.deployment.runner
        # What the earlier version wrote (its table and fields are unchanged).
        txn = db.begin(limits=None)
        txn.insert_system(SESSION_REQUESTS_TABLE, {
            "sessionId": "old", "requestId": 1, "identity": "user:",
            "result": orjson.dumps(convex_to_json("made before")), "logLines": ["was logged"],
        }, metered=False)
        old_ts = await db.commit(txn)
        again, replayed = await run_session_mutation(
            runner, "old", 1, "channels:create", {"name": "resent"}, None, is_admin=False
        )
        assert replayed and again.value == "made before" and again.ts == old_ts
        assert again.log_lines == ["was logged"]
        assert await _channels(t, "resent") == 0
        await run_session_mutation(
            runner, "old", 2, "channels:create", {"name": "new"}, None, is_admin=False
        )
        await t.advance_time(60_000)
        assert await collect_session_requests(db, 30_000) == 2  # the row and the document
        txn = db.begin(writable=False, limits=None)
        assert await Query(txn, SESSION_REQUESTS_TABLE).with_index("by_id").collect() == []
        assert await _records(t) == []


async def test_records_are_collected_oldest_first_up_to_the_first_young_one(app_dir):
    async with ConvexTest(app_dir) as t:
        runner, db = t.deployment.runner, t.deployment.db
        for i in range(3):
            await run_session_mutation(
                runner, "a", i, "counters:noop", {}, None, is_admin=False
            )
            await t.advance_time(10_000)
        # Ages now 30, 20 and 10 s: a 15 s window keeps the youngest only.
        assert await collect_session_requests(db, 15_000) == 2
        assert [r["requestId"] for r in await _records(t)] == [2]


async def test_the_record_is_invisible_to_user_functions(app_dir):
    async with ConvexTest(app_dir) as t:
        await run_session_mutation(
            t.deployment.runner, "s", 0, "channels:create", {"name": "x"}, None,
            is_admin=False,
        )

        async def peek(ctx):  # type: ignore[no-untyped-def]
            return await ctx.db.system.query("_session_requests").collect()

        with pytest.raises(Exception, match="_session_requests"):
            await t.run(peek)


async def test_the_collector_deletes_the_whole_backlog_in_passes(app_dir):
    async with ConvexTest(app_dir) as t:
        runner, db = t.deployment.runner, t.deployment.db
        for i in range(CLEANUP_PASS + 40):  # more than one pass
            await run_session_mutation(
                runner, "old", i, "counters:noop", {}, None, is_admin=False
            )
        await t.advance_time(60_000)
        collector = SessionRequestCollector(db, retention_ms=30_000)
        assert await collector.collect() == CLEANUP_PASS + 40
        assert await _records(t) == []


async def test_a_first_connection_skips_the_lookup_but_still_records(app_dir):
    """A session's first connection cannot carry a resend, so its mutations skip the
    lookup; the record is written all the same, for a resend on a later connection."""
    async with ConvexTest(app_dir) as t:
        runner = t.deployment.runner
        first, replayed = await run_session_mutation(
            runner, "s", 0, "channels:create", {"name": "one"}, None, is_admin=False,
            may_be_resent=False,
        )
        assert not replayed
        again, replayed = await run_session_mutation(
            runner, "s", 0, "channels:create", {"name": "one"}, None, is_admin=False,
        )
        assert replayed and again.value == first.value
        assert await _channels(t, "one") == 1
