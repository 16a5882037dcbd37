"""A mutation's two frames: the MutationResponse and the Transition that confirms it.

The confirming Transition is sent at once, under the lock that sent the response, when
it can be (``SyncSession._confirmation``), and both frames are made from byte templates
(``encode_server_frame``): the frames must be byte for byte what the generic encoding
gives, and each response must be followed by exactly one Transition that starts where
the last one ended and reaches the commit."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import orjson
import pytest

from pyconvex.protocol import encode_server_frame, encode_ts, parse_client_message, parse_server_message
from pyconvex.protocol.server_codec import server_message_json
from pyconvex.sync import SubscriptionManager, SyncSession
from pyconvex.testing import ConvexTest
from pyconvex.values import convex_to_json

FRAMES: list[dict[str, Any]] = [
    {"type": "MutationResponse", "requestId": 12, "success": True, "result": "k57abc",
     "ts": 1765000000123456789, "logLines": []},
    {"type": "MutationResponse", "requestId": 0, "success": True,
     "result": {"a": [1, 2.5, b"x", 2**40], "nan": float("nan"), "q": 'say "hi"\n'},
     "ts": 0, "logLines": ['a "quoted" line', "é"]},
    {"type": "MutationResponse", "requestId": 3, "success": True, "result": None, "ts": None},
    {"type": "MutationResponse", "requestId": 4, "success": False, "result": "bad", "ts": None,
     "logLines": ["l"], "errorData": {"code": 1}},
    {"type": "MutationResponse", "requestId": 5, "success": True, "result": 1, "ts": 5,
     "logLines": [], "errorData": None},
    {"type": "MutationResponse", "requestId": True, "success": True, "result": 1, "ts": 5,
     "logLines": []},
    {"type": "MutationResponse", "requestId": 6, "success": True, "result": 1, "ts": 5,
     "logLines": None},
    {"type": "Transition", "startVersion": {"querySet": 0, "identity": 0, "ts": 0},
     "endVersion": {"querySet": 1, "identity": 2, "ts": 2**64 - 1}, "modifications": [],
     "serverTs": time.time_ns()},
    {"type": "Transition", "startVersion": {"querySet": 3, "identity": 1, "ts": 7},
     "endVersion": {"querySet": 4, "identity": 1, "ts": 9},
     "modifications": [{"type": "QueryRemoved", "queryId": 3},
                       {"type": "QueryUpdated", "queryId": 1, "value": {"x": 5}, "logLines": []},
                       {"type": "QueryFailed", "queryId": 2, "errorMessage": "no",
                        "logLines": ["x"], "errorData": "d"}],
     "clientClockSkew": -12, "serverTs": 7},
    {"type": "Transition", "startVersion": {"querySet": 0, "identity": 0, "ts": 0},
     "endVersion": {"querySet": 1, "identity": 2, "ts": 5}, "modifications": []},
    {"type": "Transition", "startVersion": {"querySet": 0, "identity": 0, "ts": 0},
     "endVersion": {"querySet": 1, "identity": 2, "ts": 5}, "modifications": [],
     "clientClockSkew": 3.0},
    {"type": "Transition", "startVersion": {"querySet": 0, "identity": 0, "ts": 0},
     "endVersion": {"querySet": 1, "identity": 2, "ts": 5}, "modifications": [],
     "clientClockSkew": 0, "serverTs": 1765000000123456789},
    {"type": "Transition", "startVersion": {"querySet": True, "identity": 0, "ts": 0},
     "endVersion": {"querySet": 1, "identity": 2, "ts": 5}, "modifications": []},
    {"type": "Transition", "startVersion": {"querySet": 0, "identity": 0, "ts": 0},
     "endVersion": {"querySet": 1, "identity": 2.0, "ts": 5}, "modifications": []},
]


@pytest.mark.parametrize("message", FRAMES)
def test_template_frames_are_the_generic_encoding(message: dict[str, Any]) -> None:
    assert encode_server_frame(message) == orjson.dumps(server_message_json(message))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "message", [m for m in FRAMES if m["type"] == "MutationResponse" and m["success"]])
def test_a_response_with_its_result_encoded_already_is_the_same_frame(
    message: dict[str, Any],
) -> None:
    """A session's response carries its result's JSON as its record encoded it
    (``result_json``): the frame writes those bytes, the same as encoding the result."""
    encoded = {**message, "result_json": orjson.dumps(convex_to_json(message["result"]))}
    assert encode_server_frame(encoded) == orjson.dumps(server_message_json(message))  # type: ignore[arg-type]


@pytest.mark.parametrize("ts", [-1, 2**64, True, 1.0, None, "1"])
def test_a_transition_with_a_bad_timestamp_is_refused(ts: Any) -> None:
    message = {"type": "Transition", "startVersion": {"querySet": 0, "identity": 0, "ts": 0},
               "endVersion": {"querySet": 0, "identity": 0, "ts": ts}, "modifications": []}
    with pytest.raises(ValueError, match="u64"):
        encode_server_frame(message)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="u64"):
        encode_ts(ts)


@pytest.mark.parametrize("bad", [True, 1.0])
def test_a_remembered_timestamp_is_only_found_for_a_plain_int(bad: Any) -> None:
    """Frames remember the text of recent timestamps; ``True`` and ``1.0`` equal ``1``
    as keys, yet are no timestamps."""
    version = {"querySet": 0, "identity": 0, "ts": 1}
    message = {"type": "Transition", "startVersion": version, "endVersion": version,
               "modifications": []}
    first = encode_server_frame(message)  # type: ignore[arg-type]
    assert encode_server_frame(message) == first == orjson.dumps(server_message_json(message))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="u64"):
        encode_server_frame({**message, "endVersion": {**version, "ts": bad}})  # type: ignore[arg-type]


def test_encode_ts_is_base64_of_the_little_endian_bytes() -> None:
    assert encode_ts(0) == "AAAAAAAAAAA="
    assert encode_ts(1) == "AQAAAAAAAAA="
    assert encode_ts(2**64 - 1) == "//////////8="


async def _session(manager: SubscriptionManager, t: ConvexTest,
                   frames: list[tuple[dict[str, Any], bool]]) -> SyncSession:
    async def send(message: Any, more: bool) -> None:  # as the shell writes it, read back
        frames.append((dict(parse_server_message(encode_server_frame(message))), more))

    session = SyncSession(manager, t.deployment.runner, send)
    await _handle(session, {"type": "Connect", "sessionId": str(uuid.uuid4()), "connectionCount": 0,
                          "lastCloseReason": "InitialConnect", "clientTs": int(time.time() * 1000)})
    return session


async def _handle(session: SyncSession, message: dict[str, Any]) -> None:
    await session.handle(parse_client_message(orjson.dumps(message).decode()))


def _check_pairs(frames: list[tuple[dict[str, Any], bool]], count: int) -> None:
    """Each response (marked ``more``) followed by one Transition reaching its commit,
    each Transition starting where the previous one ended."""
    assert [m["type"] for m, _ in frames] == ["MutationResponse", "Transition"] * count
    version = {"querySet": 0, "identity": 0, "ts": 0}
    for (response, more), (transition, _) in zip(frames[::2], frames[1::2], strict=True):
        assert more is True
        assert transition["startVersion"] == version
        version = transition["endVersion"]
        assert "clientClockSkew" in transition
        if response["success"]:
            assert version["ts"] >= response["ts"]


async def _until(frames: list[Any], count: int) -> None:
    async def wait() -> None:
        while len(frames) < count:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), 30)


async def test_a_session_without_queries_gets_one_transition_per_mutation(live):
    t, manager = live
    frames: list[tuple[dict[str, Any], bool]] = []
    session = await _session(manager, t, frames)
    mutations = [{"cells": {"a": 1}}, {"cells": "not a record"}, {"cells": {"b": 2}}]
    for i, args in enumerate(mutations):
        await _handle(session, {"type": "Mutation", "requestId": i, "udfPath": "cells:put",
                              "args": [args]})
    await _until(frames, 6)
    await asyncio.sleep(0.05)  # nothing more follows
    _check_pairs(frames, 3)
    assert [m["success"] for m, _ in frames[::2]] == [True, False, True]
    session.check_invariants()
    await session.close()


async def test_a_session_with_queries_gets_its_results_with_the_confirmation(live):
    t, manager = live
    await t.mutation("cells:put", {"cells": {"a": 0}})
    frames: list[tuple[dict[str, Any], bool]] = []
    session = await _session(manager, t, frames)
    await _handle(session, {"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1,
                          "modifications": [{"type": "Add", "queryId": 0, "udfPath": "cells:get",
                                             "args": [{"name": "a"}]}]})
    added = frames.pop(0)[0]
    assert added["type"] == "Transition"
    await _handle(session, {"type": "Mutation", "requestId": 0, "udfPath": "cells:put",
                          "args": [{"cells": {"elsewhere": 1}}]})  # the query's result stays
    await _handle(session, {"type": "Mutation", "requestId": 1, "udfPath": "cells:put",
                          "args": [{"cells": {"a": 5}}]})  # the query's result changes
    await _until(frames, 4)
    await asyncio.sleep(0.05)
    # Each response is followed by a Transition, and Transitions reach its commit (a
    # stale result's re-run may come in one of its own); they chain from the first one.
    version, value, reached = added["endVersion"], None, []
    for i, (message, _) in enumerate(frames):
        if message["type"] == "MutationResponse":
            assert frames[i + 1][0]["type"] == "Transition"
            reached.append(any(m["type"] == "Transition" and m["endVersion"]["ts"] >= message["ts"]
                               for m, _ in frames[i + 1:]))
            continue
        assert message["startVersion"] == version
        version = message["endVersion"]
        for mod in message["modifications"]:
            assert mod["type"] == "QueryUpdated" and mod["queryId"] == 0
            value = mod["value"]
    assert reached == [True, True]
    assert value == 5.0
    session.check_invariants()
    await session.close()
