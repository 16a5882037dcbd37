"""A sync session's Connect decides whether its mutations look their record up: a
session's first connection (``connectionCount`` 0) can carry no resend, so it skips the
lookup (no read of ``_session_requests``) and still records each outcome; a later
connection's mutations look up, so a resend there is answered from the record."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

from pyconvex.database.catalog import SESSION_REQUESTS_TABLE
from pyconvex.database.committer import Committed
from pyconvex.protocol import encode_server_frame, parse_client_message, parse_server_message
from pyconvex.sync import SubscriptionManager, SyncSession, format_function_error
from pyconvex.testing import ConvexTest

LIVEAPP = Path(__file__).resolve().parents[1] / "fixtures" / "liveapp" / "convex"


class _Socket:
    """One connection of a client: its session and what the server sent on it."""

    def __init__(self, manager: SubscriptionManager, t: ConvexTest) -> None:
        self.sent: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        self.session = SyncSession(manager, t.deployment.runner, self._send)

    async def _send(self, message: dict[str, Any], more: bool) -> None:
        # What the shell puts on the wire, as a client decodes it.
        self.sent.append(dict(parse_server_message(encode_server_frame(message))))
        self.arrived.set()

    async def handle(self, message: dict[str, Any]) -> None:
        await self.session.handle(dict(parse_client_message(json.dumps(message))))

    async def connect(self, session_id: str, count: int) -> None:
        await self.handle({"type": "Connect", "sessionId": session_id, "connectionCount": count,
                           "lastCloseReason": "InitialConnect" if count == 0 else "closed",
                           "clientTs": 0})

    async def mutate(self, request_id: int) -> dict[str, Any]:
        """Send ``cells:add`` (not idempotent: a second run adds again); its response."""
        await self.handle({"type": "Mutation", "requestId": request_id, "udfPath": "cells:add",
                           "args": [{"names": ["n"], "by": 1}]})
        while True:
            for msg in self.sent:
                if msg["type"] == "MutationResponse" and msg["requestId"] == request_id:
                    assert msg["success"], msg
                    return msg
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), 30)


async def test_the_connection_count_decides_the_lookup_and_a_reconnect_is_answered():
    async with ConvexTest(LIVEAPP) as t:
        db = t.deployment.db
        manager = SubscriptionManager(db, t.deployment.runner, format_function_error)
        manager.start()
        record_indexes = {i.id for i in db.catalog.tables_by_name[SESSION_REQUESTS_TABLE]
                          .indexes.values()}
        looked_up: list[bool] = []

        def on_commit(committed: list[Committed]) -> None:
            looked_up.extend(not record_indexes.isdisjoint(c.request.reads.index_ids())
                             for c in committed)

        remove = db.add_listener(on_commit)
        try:
            session_id = str(uuid.uuid4())
            first = _Socket(manager, t)
            await first.connect(session_id, 0)
            answered = [await first.mutate(0), await first.mutate(1)]
            await first.session.close()
            assert looked_up == [False, False]  # the first connection skipped the lookup
            records = await db.persistence.oldest_session_requests(10)
            assert [(r.session_id, r.request_id) for r in records] == [
                (session_id, 0), (session_id, 1)]

            # The client reconnects (its count says so) and resends both, then sends a
            # new one: the resends are answered from the records, the new one runs.
            looked_up.clear()
            again = _Socket(manager, t)
            await again.connect(session_id, 1)
            for request_id, before in enumerate(answered):
                replay = await again.mutate(request_id)
                assert (replay["result"], replay["ts"]) == (before["result"], before["ts"])
            await again.mutate(2)
            await again.session.close()
            assert looked_up and all(looked_up)  # every transaction on it looked up
            assert await t.query("cells:get", {"name": "n"}) == 3  # three runs, not five
        finally:
            remove()
            await manager.stop()
