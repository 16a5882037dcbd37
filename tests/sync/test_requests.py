"""A session's mutation runs once however often it is resent: its outcome is recorded in
``_session_requests`` in the mutation's own transaction and a resend is answered from it."""

from __future__ import annotations

import asyncio

import pytest

from pyconvex import api
from pyconvex.database import Query
from pyconvex.database.session_requests import collect_session_requests
from pyconvex.errors import ArgumentValidationError
from pyconvex.sync.requests import (
    CLEANUP_PASS,
    SessionRequestCollector,
    SessionRequestMismatch,
    run_session_mutation,
)
from pyconvex.testing import ConvexTest

ALICE = {"tokenIdentifier": "https://issuer.example|alice", "subject": "alice",
         "issuer": "https://issuer.example", "role": "admin"}


async def _records(t: ConvexTest) -> list[dict[str, object]]:
    txn = t.deployment.db.begin(writable=False, limits=None)
    return await Query(txn, "_session_requests").with_index("by_id").collect()


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


async def test_the_record_adds_two_index_entries_to_its_mutation(app_dir):
    """The record's commit cost: its document, its by_id entry and the key a resend is
    looked up by; no by_creation_time entry (retention walks by_id)."""
    async with ConvexTest(app_dir) as t:
        db = t.deployment.db
        table = db.catalog.tables_by_name["_session_requests"]
        assert set(table.indexes) == {"by_id", "by_session_id_and_request_id"}
        written: list[tuple[int, bytes]] = []
        remove = db.add_listener(lambda done: written.extend(k for c in done for k in c.request.written))
        await t.mutation(api.channels.create, {"name": "plain"})
        plain, written[:] = list(written), []
        await run_session_mutation(
            t.deployment.runner, "s", 0, "channels:create", {"name": "recorded"}, None,
            is_admin=False, may_be_resent=False,
        )
        remove()
        record_indexes = {i.id for i in table.indexes.values()}
        assert len(written) == len(plain) + 2
        assert sorted(i for i, _ in written if i in record_indexes) == sorted(record_indexes)


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
