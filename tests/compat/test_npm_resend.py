"""The official npm ConvexClient resends what it has no answer for after the server is
killed (-9) and restarted: every mutation it sent is applied exactly once.

A mutation committed just before the kill whose answer (or covering Transition) never
reached the client is resent to the restarted server; it must be answered from its
record in ``_session_requests``, not run a second time. The test counts such mutations
(committed at the kill but not acknowledged) so it cannot pass without exercising them.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from pyconvex.database import Database, Query
from pyconvex.persistence import open_persistence
from tests.conftest import free_port, server_output, start_server, stop_server

SCRIPT = Path(__file__).parent / "npm" / "resend.mjs"
ROUNDS = 20


async def _committed_tags(url: str) -> Counter[str]:
    """How many rows each tag has in the database right now (the server is down)."""
    db = await Database.open(await open_persistence(url))
    try:
        txn = db.begin(writable=False, limits=None)
        if txn.table("items") is None:
            return Counter()
        return Counter(str(doc["tag"]) for doc in await Query(txn, "items").collect())
    finally:
        await db.close()


class _Lines:
    """The node script's output, read on a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.sent: list[str] = []
        self.acked: set[str] = set()
        self.errors: list[str] = []
        self.done = threading.Event()
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            kind, _, rest = line.strip().partition(" ")
            if kind == "sent":
                self.sent.append(rest)
            elif kind == "ack":
                self.acked.add(rest)
            elif kind == "err":
                self.errors.append(rest)
            elif kind == "done":
                self.done.set()

    def wait_acks(self, n: int, timeout: float) -> bool:
        """Until ``n`` more mutations are acknowledged than now."""
        target = len(self.acked) + n
        deadline = time.monotonic() + timeout
        while len(self.acked) < target and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.acked) >= target


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    stop_server(proc)  # reaps it and its output reader


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_kill_loop_applies_every_mutation_exactly_once(
    backend: str, tmp_path: Path, make_db_url, node_modules: Path, monkeypatch: pytest.MonkeyPatch
):  # type: ignore[no-untyped-def]
    from tests.pg import base_url

    if backend == "postgres":
        monkeypatch.setenv("PYCONVEX_TEST_DATABASE_URL", base_url())
    else:
        monkeypatch.delenv("PYCONVEX_TEST_DATABASE_URL", raising=False)
    url = make_db_url("resend")
    port = free_port()
    rng = random.Random(22)
    server, http = start_server(url, port=port)
    client = subprocess.Popen(
        ["node", str(SCRIPT), http, "4"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True, cwd=node_modules.parent,
    )
    lines = _Lines(client)
    unanswered_at_kill = 0  # committed before a kill, not acknowledged: will be resent
    try:
        for round_ in range(ROUNDS):
            # The client is (again) committing through this server.
            assert lines.wait_acks(3, timeout=60), (
                f"round {round_}: no answers since the restart; server says: "
                f"{server_output(server)}"
            )
            time.sleep(rng.uniform(0.0, 0.3))
            _kill(server)
            time.sleep(0.2)  # acknowledgements already on their way are printed
            committed = await _committed_tags(url)
            unanswered_at_kill += sum(1 for tag in committed if tag not in lines.acked)
            server, _ = start_server(url, port=port)
        assert client.stdin is not None
        client.stdin.write("stop\n")
        client.stdin.flush()
        assert lines.done.wait(120), "the client never got answers to all its mutations"
    finally:
        client.kill()
        client.wait()
        for pipe in (client.stdin, client.stdout):
            if pipe is not None:
                pipe.close()
        _kill(server)
    final = await _committed_tags(url)
    assert not lines.errors, lines.errors[:3]
    assert set(lines.sent) == lines.acked  # every mutation sent was answered
    twice = {tag: n for tag, n in final.items() if n != 2}
    assert not twice, f"mutations applied other than once (2 rows each): {twice}"
    assert set(final) == set(lines.sent)
    assert unanswered_at_kill > 0, "no kill fell between a commit and its answer"
