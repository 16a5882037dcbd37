"""Over the wire: one client's slow live query holds up no one else. While a subscribed
query is still re-running, another client gets its update and its mutation's
confirmation (what ``await client.mutation(...)`` waits for).

The slow query waits on a gate the test opens (``cells:open_gate``) only after the other
client was served, so the test decides the order instead of racing a clock: were the
other client held up by the slow query, it would never be served and the test fails."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import websockets

from pyconvex.functions import FunctionLimits
from pyconvex.protocol import decode_ts
from tests.server.inprocess import live_server

LIVEAPP = Path(__file__).resolve().parents[1] / "fixtures" / "liveapp" / "convex"


async def _connect(url: str, query: str) -> Any:
    ws = await websockets.connect(url.replace("http://", "ws://") + "/api/1.48.0/sync", max_size=None)
    await ws.send(json.dumps({"type": "Connect", "sessionId": str(uuid.uuid4()), "connectionCount": 0,
                              "lastCloseReason": "InitialConnect", "clientTs": 0}))
    await ws.send(json.dumps({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
        {"type": "Add", "queryId": 0, "udfPath": "cells:get", "args": [{"name": query}]}]}))
    while json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] != "Transition":
        pass
    return ws


async def test_a_slow_query_delays_only_its_own_client(tmp_path: Path):
    # The query legitimately takes a while (as one awaiting a slow database might), so
    # the deployment's limit on query time is raised past the test's length.
    events: list[tuple[str, dict[str, Any]]] = []
    arrived = asyncio.Event()

    async def read(name: str, ws: Any) -> None:
        async for frame in ws:
            events.append((name, json.loads(frame)))
            arrived.set()

    async def first(condition: Any) -> int:
        while True:
            for i, (name, msg) in enumerate(events):
                if condition(name, msg):
                    return i
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), 60)

    with live_server(tmp_path / "db.sqlite3", LIVEAPP,
                     limits=FunctionLimits(query_mutation_s=30)) as served:
        url = served.url
        async with httpx.AsyncClient(base_url=url) as http:
            put = {"path": "cells:put", "args": {"cells": {"slow": 0, "fast": 0}}}
            assert (await http.post("/api/mutation", json=put)).status_code == 200
            slow, fast = await _connect(url, "slow"), await _connect(url, "fast")
            readers = [asyncio.create_task(read("slow", slow)), asyncio.create_task(read("fast", fast))]
            # Re-running the slow client's query now waits until the gate opens.
            put = {"path": "cells:put", "args": {"cells": {"slow": 1}, "delay": -1}}
            assert (await http.post("/api/mutation", json=put)).status_code == 200
            await fast.send(json.dumps({"type": "Mutation", "requestId": 0, "udfPath": "cells:put",
                                        "args": [{"cells": {"fast": 2}}]}))
            response = events[await first(lambda n, m: m["type"] == "MutationResponse")][1]
            assert response["success"]
            commit_ts = decode_ts(response["ts"])
            confirmed = await first(
                lambda n, m: n == "fast" and m["type"] == "Transition"
                and decode_ts(m["endVersion"]["ts"]) >= commit_ts
            )
            assert events[confirmed][1]["modifications"][0]["value"] == 2
            assert not [m for n, m in events if n == "slow"]  # its query is still running
            opened = await http.post("/api/mutation", json={"path": "cells:open_gate", "args": {}})
            assert opened.status_code == 200
            # Then the slow client moves, to its query's new result.
            moved = await first(lambda n, m: n == "slow" and m["type"] == "Transition")
            assert moved > confirmed
            transition = events[moved][1]
            assert transition["modifications"][0]["type"] == "QueryUpdated"
            assert transition["modifications"][0]["value"] == 1
            for task in readers:
                task.cancel()
            await slow.close()
            await fast.close()
