"""The server's observers of a runner's journal (the log buffer, metrics, log streams)
join and leave it the same way (``JournalObserver`` in
``functions/runtime/journal.py``): attached, each is a consumer, metrics' insights read
through to the journal and a log stream with a sink wants records at once; detached,
each has been handed what was pending, is no consumer any more and wants nothing."""

from __future__ import annotations

from pathlib import Path

from pyconvex.functions import ExecutionRecord
from pyconvex.functions.runtime.journal import Journal
from pyconvex.server.log_buffer import LogBuffer
from pyconvex.server.log_streams import LogStreams, SinkConfig
from pyconvex.server.metrics import Metrics
from pyconvex.server.state import ServerState
from pyconvex.testing import ConvexTest


def record(path: str) -> ExecutionRecord:
    return ExecutionRecord(path, "mutation", [], None, 0.0, 1.0)


async def test_observers_attach_and_detach_alike(app_dir: Path, tmp_path: Path) -> None:
    async with ConvexTest(app_dir) as t:
        journal = Journal()
        logs, metrics = LogBuffer(), Metrics(ServerState(t.deployment))
        streams = LogStreams(t.deployment.db, [])
        sink = streams._add(SinkConfig.parse(f"jsonl:{tmp_path / 'events.jsonl'}"),
                            persistent=False)
        try:
            for observer in (logs, metrics, streams):
                observer.attach(journal)
            assert journal.consumers == [logs.on_executions, metrics.on_executions,
                                         streams.on_executions]
            assert metrics.insights.pending == journal.flush  # reads take what is pending
            assert journal.prompt == {streams}  # it has a sink

            journal.pending.append(record("m:before"))
            logs.detach()  # hands what is pending to every consumer, then leaves
            assert [r.path for _, r in logs.after(0)] == ["m:before"]
            assert ("m:before", "mutation") in metrics.calls.series
            assert sink.buffered + sink.sent == 1  # its function_execution event (no lines)
            assert journal.consumers == [metrics.on_executions, streams.on_executions]

            metrics.detach()
            streams.detach()
            assert journal.consumers == [] and journal.prompt == set()
            assert metrics.insights.pending is None
            for observer in (logs, metrics, streams):
                observer.detach()  # a second time: nothing to leave

            journal.pending.append(record("m:after"))
            journal.flush()
            assert logs.last_seq == 1 and ("m:after", "mutation") not in metrics.calls.series
        finally:
            await streams.stop()
