"""SyncSession, driven as the WebSocket shell drives it: each client's transitions are
consistent, reach its mutations' commits, and never wait for another client's queries."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from pyconvex.functions.runtime.request_meta import RequestOrigin
from pyconvex.protocol import encode_server_frame, parse_client_message, parse_server_message
from pyconvex.sync import SessionInvariantError, SubscriptionManager, SyncSession
from pyconvex.testing import ConvexTest


@dataclass
class Client:
    """A session and what it sent, kept as a client keeps its query results."""

    name: str
    session: SyncSession
    log: list[tuple[str, dict[str, Any]]]  # shared by all clients: the order of sends
    queries: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    results: dict[int, Any] = field(default_factory=dict)
    version: dict[str, int] = field(default_factory=lambda: {"querySet": 0, "identity": 0, "ts": 0})
    transitions: list[tuple[int, dict[int, Any]]] = field(default_factory=list)
    next_request: int = 0
    received: asyncio.Event = field(default_factory=asyncio.Event)

    def mine(self) -> list[dict[str, Any]]:
        return [m for who, m in self.log if who == self.name]

    async def handle(self, message: dict[str, Any]) -> None:
        await self.session.handle(dict(parse_client_message(json.dumps(message))))

    async def add(self, qid: int, path: str, args: dict[str, Any]) -> None:
        self.queries[qid] = (path, args)
        base = self.session.query_set_version
        await self.handle({"type": "ModifyQuerySet", "baseVersion": base, "newVersion": base + 1,
                           "modifications": [{"type": "Add", "queryId": qid, "udfPath": path,
                                              "args": [args]}]})

    async def mutate(self, path: str, args: dict[str, Any]) -> int:
        """Send a Mutation and wait until it is confirmed (a transition reached its ts),
        as ``await client.mutation(...)`` does; its commit timestamp."""
        request_id = self.next_request
        self.next_request += 1
        await self.handle({"type": "Mutation", "requestId": request_id, "udfPath": path,
                           "args": [args]})
        while True:
            for msg in self.mine():
                if msg["type"] == "MutationResponse" and msg["requestId"] == request_id:
                    assert msg["success"], msg
                    ts = int(msg["ts"])
                    if self.version["ts"] >= ts:
                        return ts
            self.received.clear()
            await self.received.wait()

    def take(self, message: dict[str, Any]) -> None:
        """Apply a server message as a client would, checking the protocol's rules."""
        if message["type"] != "Transition":
            return
        assert message["startVersion"] == self.version, f"{self.name}: transition does not start where the last ended"
        end = message["endVersion"]
        assert end["ts"] >= self.version["ts"], f"{self.name}: timestamp went back"
        for mod in message["modifications"]:
            if mod["type"] == "QueryUpdated":
                self.results[mod["queryId"]] = orjson.loads(orjson.dumps(mod["value"]))
            elif mod["type"] == "QueryFailed":
                self.results[mod["queryId"]] = ("failed", mod["errorMessage"])
            else:
                self.results.pop(mod["queryId"], None)
        self.version = dict(end)
        self.transitions.append((end["ts"], dict(self.results)))


async def connect(manager: SubscriptionManager, t: ConvexTest, name: str,
                  log: list[tuple[str, dict[str, Any]]], clients: dict[str, Client]) -> Client:
    async def send(message: dict[str, Any], more: bool) -> None:
        # What the shell puts on the wire, as a client decodes it.
        decoded: dict[str, Any] = dict(parse_server_message(encode_server_frame(message)))
        log.append((name, decoded))
        client = clients[name]
        client.take(decoded)
        client.received.set()

    session = SyncSession(manager, t.deployment.runner, send)
    client = clients[name] = Client(name, session, log)
    await client.handle({"type": "Connect", "sessionId": str(uuid.uuid4()), "connectionCount": 0,
                         "lastCloseReason": "InitialConnect", "clientTs": 0})
    return client


async def test_a_client_is_not_held_up_by_another_clients_slow_query(live):
    t, manager = live
    await t.mutation("cells:put", {"cells": {"slow": 0, "fast": 0, "bad": 1}})
    log: list[tuple[str, dict[str, Any]]] = []
    clients: dict[str, Client] = {}
    slow = await connect(manager, t, "slow", log, clients)
    fast = await connect(manager, t, "fast", log, clients)
    twin = await connect(manager, t, "twin", log, clients)
    await slow.add(0, "cells:get", {"name": "slow"})
    await slow.add(1, "cells:get", {"name": "fast"})
    await fast.add(0, "cells:get", {"name": "fast"})
    await fast.add(1, "cells:get", {"name": "bad"})
    await twin.add(0, "cells:get", {"name": "fast"})
    try:
        # The slow client's query now waits until the test opens the gate.
        await t.mutation("cells:put", {"cells": {"slow": 1}, "delay": -1})
        await manager.wait_for(t.deployment.db.latest_ts)
        before = len(slow.mine())
        runs = manager.reruns
        # The fast client's mutation is confirmed, with its own queries at its commit:
        # one updated, one failing alone, while the other client's query is still running.
        ts = await fast.mutate("cells:put", {"cells": {"fast": 2, "bad": -1}})
        assert fast.results[0] == 2
        assert fast.results[1][0] == "failed" and "bad is negative" in fast.results[1][1]
        assert manager.reruns - runs == 2  # fast (shared by three clients) and bad: one run each
        await asyncio.wait_for(_until(lambda: twin.version["ts"] >= ts and twin.results[0] == 2), 30)
        assert not [m for m in slow.mine()[before:] if m["type"] == "Transition"]
        for client in (slow, fast, twin):
            client.session.check_invariants()
    finally:
        await t.mutation("cells:open_gate", {})
    # Then the slow client moves, both its queries at one timestamp past both commits.
    await asyncio.wait_for(_until(lambda: slow.version["ts"] >= ts), 30)
    assert slow.results == {0: 1, 1: 2}
    for client in (slow, fast, twin):
        client.session.check_invariants()
        await client.session.close()
        client.session.check_invariants()


async def _until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.005)


@pytest.mark.parametrize("seed", [1, 2])
async def test_transitions_stay_consistent_under_concurrent_commits(live, seed: int):
    """Random query sets over a few cells, one of them slow; concurrent commits from
    several writers. Every transition a client gets must show, for every query of its
    set, exactly that query's result at the transition's timestamp; timestamps only
    grow; each client's mutation is confirmed only once its transitions reach it."""
    t, manager = live
    rng = random.Random(seed)
    names = ["a", "b", "c", "d"]
    await t.mutation("cells:put", {"cells": {n: 0 for n in names}})
    await t.mutation("cells:put", {"cells": {"s": 0}, "delay": 0.05})
    log: list[tuple[str, dict[str, Any]]] = []
    clients: dict[str, Client] = {}
    for i in range(4):
        client = await connect(manager, t, f"c{i}", log, clients)
        for qid in range(rng.randint(1, 3)):
            picked = rng.sample([*names, "s"], rng.randint(1, 3))
            if len(picked) == 1:
                await client.add(qid, "cells:get", {"name": picked[0]})
            else:
                await client.add(qid, "cells:many", {"names": picked})

    async def writer(client: Client | None) -> None:
        for _ in range(8):
            args = {"names": rng.sample([*names, "s"], rng.randint(1, 3)), "by": 1}
            if client is None:
                await t.mutation("cells:add", args)
            else:
                await client.mutate("cells:add", args)
            await asyncio.sleep(rng.random() * 0.02)

    async def checker() -> None:
        for _ in range(40):
            for client in clients.values():
                client.session.check_invariants()
            await asyncio.sleep(0.005)

    await asyncio.gather(writer(None), writer(None), writer(clients["c0"]), writer(clients["c1"]),
                         checker())
    await manager.settled()
    latest = t.deployment.db.latest_ts
    for client in clients.values():
        await client.session.send_transition()
        assert client.version["ts"] == latest
        client.session.check_invariants()

    expected: dict[tuple[int, str], list[Any]] = {}

    async def at(ts: int, cells: list[str]) -> list[Any]:
        missing = [c for c in cells if (ts, c) not in expected]
        if missing:
            found = await t.deployment.runner.run_query("cells:values", {"names": missing}, ts=ts)
            for cell, value in zip(missing, found.value, strict=True):
                expected[(ts, cell)] = value
        return [expected[(ts, c)] for c in cells]

    checked = 0
    for client in clients.values():
        assert client.transitions, f"{client.name} got no transition"
        for ts, results in client.transitions:
            for qid, value in results.items():  # (queries join the set one by one)
                path, args = client.queries[qid]
                if path == "cells:get":
                    assert [value] == await at(ts, [args["name"]]), (client.name, ts, qid)
                else:
                    assert value == await at(ts, args["names"]), (client.name, ts, qid)
                checked += 1
        assert set(client.transitions[-1][1]) == set(client.queries)
        # A confirmed mutation's transitions had reached its ts before the client's next
        # mutation response: the client read its own writes.
        responses = [i for i, m in enumerate(client.mine()) if m["type"] == "MutationResponse"]
        for here, after in itertools.pairwise(responses):
            ts = int(client.mine()[here]["ts"])
            reached = [m["endVersion"]["ts"] for m in client.mine()[:after] if m["type"] == "Transition"]
            assert reached and max(reached) >= ts
    assert checked > 20
    for client in clients.values():
        await client.session.close()


async def test_invariant_check_names_what_is_broken(live):
    t, manager = live
    await t.mutation("cells:put", {"cells": {"a": 1}})
    clients: dict[str, Client] = {}
    client = await connect(manager, t, "c", [], clients)
    await client.add(0, "cells:get", {"name": "a"})
    client.session.check_invariants()
    client.session.current["ts"] = manager.processed_ts + 1  # a client told of the future
    with pytest.raises(SessionInvariantError, match="past the newest commit"):
        client.session.check_invariants()
    client.session.current["ts"] = manager.processed_ts
    manager.unsubscribe(client.session.queries[0].sub, client.session._on_result)
    with pytest.raises(SessionInvariantError, match="query 0: its subscription is no longer live"):
        client.session.check_invariants()
    client.session.queries.clear()
    await client.session.close()


async def test_a_failing_task_ends_the_socket_with_its_error(live):
    """The pusher, the mutation worker and the receive loop are one group: when the
    pusher fails, ``serve`` (what the WebSocket shell awaits) raises its error at once
    instead of leaving a connected client that never gets another transition."""
    t, manager = live
    await t.mutation("cells:put", {"cells": {"a": 1}})
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any], more: bool) -> None:
        if message["type"] == "Transition" and sent:
            raise RuntimeError("the socket broke")
        sent.append(message)

    session = SyncSession(manager, t.deployment.runner, send)
    client = Client("c", session, [])
    await client.handle({"type": "Connect", "sessionId": str(uuid.uuid4()), "connectionCount": 0,
                         "lastCloseReason": "InitialConnect", "clientTs": 0})
    await client.add(0, "cells:get", {"name": "a"})
    assert [m["type"] for m in sent] == ["Transition"]
    quiet = asyncio.Event()  # a client that sends nothing more
    receive_loop_ended = asyncio.Event()

    async def receive_loop() -> None:
        try:
            await quiet.wait()
        finally:
            receive_loop_ended.set()

    serving = asyncio.create_task(session.serve(receive_loop()))
    await t.mutation("cells:put", {"cells": {"a": 2}})  # the pusher's next send fails
    with pytest.raises(RuntimeError, match="the socket broke"):
        await asyncio.wait_for(serving, 30)
    assert receive_loop_ended.is_set()
    await session.close()
    session.check_invariants()


async def test_the_receive_loop_ending_ends_serve(live):
    t, manager = live

    async def send(message: dict[str, Any], more: bool) -> None:
        pass

    session = SyncSession(manager, t.deployment.runner, send)

    async def receive_loop() -> None:  # the client went away
        return None

    await asyncio.wait_for(session.serve(receive_loop()), 30)
    await session.close()
    session.check_invariants()


async def test_every_mutation_response_is_followed_by_a_transition(live):
    """Clients settle a mutation on the Transition after its response, a failed one
    too (the PyPI client waits for it), so one always follows."""
    t, manager = live
    log: list[tuple[str, dict[str, Any]]] = []
    clients: dict[str, Client] = {}
    client = await connect(manager, t, "c", log, clients)
    await client.add(0, "cells:get", {"name": "a"})
    await client.handle({"type": "Mutation", "requestId": 0, "udfPath": "cells:put",
                         "args": [{"cells": "not a record"}]})
    await client.handle({"type": "Mutation", "requestId": 1, "udfPath": "cells:put",
                         "args": [{"cells": {"elsewhere": 1}}]})
    await asyncio.wait_for(_until(lambda: len(client.mine()) >= 5), 30)
    kinds = [(m["type"], m.get("success")) for m in client.mine()]
    assert kinds == [("Transition", None), ("MutationResponse", False), ("Transition", None),
                     ("MutationResponse", True), ("Transition", None)]
    await client.session.close()


async def test_a_request_origin_is_made_only_when_the_token_changes(live):
    """Each mutation runs with the connection's origin and the token in force when it
    arrived; a token that did not change reuses the origin made for it."""
    t, manager = live

    async def send(message: Any, more: bool) -> None:
        pass

    connection = RequestOrigin("203.0.113.9", "probe/1")
    session = SyncSession(manager, t.deployment.runner, send, origin=connection)
    assert session._origin(None) is connection
    first = session._origin("token-1")
    assert first == RequestOrigin("203.0.113.9", "probe/1", "token-1")
    assert session._origin("token-1") is first
    assert session._origin("token-2") == RequestOrigin("203.0.113.9", "probe/1", "token-2")
    assert session._origin(None) == connection
    assert SyncSession(manager, t.deployment.runner, send)._origin("token-1") is None
