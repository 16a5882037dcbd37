"""The record a runner's listeners get per execution (metrics, insights, log streams, the
log buffer). ``FunctionRunner._finish`` builds it as a plain tuple of every field (no
call of the named tuple's ``__new__``), so a field added to ``ExecutionRecord`` must be
added there too: these tests fail if the two disagree."""

from __future__ import annotations

from pyconvex import api
from pyconvex.functions import ExecutionRecord
from pyconvex.testing import ConvexTest


async def test_every_kind_of_record_has_every_field(app_dir):
    async with ConvexTest(app_dir) as t:
        records: list[ExecutionRecord] = []
        t.deployment.runner.listeners.append(records.append)
        assert await t.mutation(api.counters.increment, {"name": "a"}) == 1
        assert await t.query(api.counters.get, {"name": "a"}) == 1
        mutation, query = records
        records.clear()
        await t.action(api.actions.make_channel_and_count, {"name": "c"})
        action = records[-1]  # after the mutation and the query it ran
        assert (action.kind, action.docs_written, action.unindexed_tables) == ("action", 0, ())
        for record in (mutation, query, action):
            assert type(record) is ExecutionRecord
            assert len(record) == len(ExecutionRecord._fields)
            assert record._asdict().keys() == set(ExecutionRecord._fields)
        assert (mutation.path, mutation.kind, mutation.error) == ("counters:increment", "mutation", None)
        assert mutation.docs_written == 1 and mutation.bytes_written > 0
        assert mutation.docs_read_unindexed == 0 and mutation.unindexed_tables == ()
        assert mutation.conflicts == () and mutation.request_id and mutation.traceback is None
        assert query.kind == "query" and query.docs_written == 0
