"""Fan-out over the wire: a commit's Transitions go out in one pass, sharing the frame
among clients in the same state and never between clients in different ones; each
client's Transition starts at its own previous end version."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import websockets

from pyconvex.protocol import decode_ts
from pyconvex.sync import fanout
from tests.server.inprocess import live_server

N = 12


async def _client(url: str) -> Any:
    ws = await websockets.connect(url.replace("http://", "ws://") + "/api/1.48.0/sync")
    await ws.send(json.dumps({"type": "Connect", "sessionId": str(uuid.uuid4()),
                              "connectionCount": 0, "lastCloseReason": "InitialConnect"}))
    return ws


async def _next(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if msg["type"] == kind:
            return msg  # type: ignore[no-any-return]


async def _add(ws: Any, base: int, qid: int, path: str, args: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "ModifyQuerySet", "baseVersion": base,
                              "newVersion": base + 1, "modifications": [
                                  {"type": "Add", "queryId": qid, "udfPath": path, "args": [args]}]}))
    return await _next(ws, "Transition")


def _counters() -> tuple[int, int]:
    passes = list(fanout._FANOUTS.values())
    return sum(f.pushed for f in passes), sum(f.shared for f in passes)


async def test_one_pass_shares_frames_within_a_state_only(tmp_path: Path) -> None:
    with live_server(tmp_path / "db.sqlite3") as served:
        alike = [await _client(served.url) for _ in range(N)]
        ends = [(await _add(ws, 0, 0, "channels:list", {}))["endVersion"] for ws in alike]
        # One client in another state: a second query, so another query set version.
        other = await _client(served.url)
        await _add(other, 0, 0, "channels:list", {})
        other_end = (await _add(other, 1, 1, "channels:by_name", {"name": "x"}))["endVersion"]
        pushed, shared = _counters()

        async with httpx.AsyncClient() as http:
            r = await http.post(f"{served.url}/api/mutation",
                                json={"path": "channels:create", "args": {"name": "x"}})
            r.raise_for_status()
        got = await asyncio.gather(*(_next(ws, "Transition") for ws in alike))
        got_other = await _next(other, "Transition")

        for start, msg in zip(ends, got, strict=True):
            assert msg["startVersion"] == start
            assert [m["value"][0]["name"] for m in msg["modifications"]] == ["x"]
        assert len({json.dumps(m, sort_keys=True) for m in got}) == 1  # the same bytes
        assert got_other["startVersion"] == other_end
        assert got_other["endVersion"]["querySet"] == 2
        assert {m["queryId"] for m in got_other["modifications"]} == {0, 1}
        assert decode_ts(got_other["endVersion"]["ts"]) >= decode_ts(got[0]["endVersion"]["ts"])
        now_pushed, now_shared = _counters()
        # Every client moved in a pass (not by its pusher task), and the N alike ones
        # encoded one frame between them; the other client's was its own.
        assert now_pushed - pushed >= N + 1
        assert now_shared - shared == N - 1
        for ws in [*alike, other]:
            await ws.close()
