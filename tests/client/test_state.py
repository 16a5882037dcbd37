"""The client state machine, driven by scripted server messages (no sockets)."""

from __future__ import annotations

from typing import Any

import pytest

from pyconvex.client import ConvexError, ConvexExecutionError
from pyconvex.client._events import (
    AuthChange,
    FunctionResult,
    QueryResult,
    RequestDone,
    RequestLost,
    ServerFatal,
)
from pyconvex.client._state import ACTION_LOST, Backoff, ClientState, function_path
from pyconvex.errors import InvalidValueError
from pyconvex.protocol import ProtocolError, ServerMessage


def version(qs: int, identity: int, ts: int) -> dict[str, int]:
    return {"querySet": qs, "identity": identity, "ts": ts}


def transition(start: tuple[int, int, int], end: tuple[int, int, int], *mods: dict[str, Any]) -> ServerMessage:
    return {"type": "Transition", "startVersion": version(*start), "endVersion": version(*end),  # type: ignore[return-value]
            "modifications": list(mods)}


def updated(qid: int, value: Any, journal: str | None = None) -> dict[str, Any]:
    return {"type": "QueryUpdated", "queryId": qid, "value": value, "logLines": [], "journal": journal}


def mutation_ok(rid: int, result: Any, ts: int) -> ServerMessage:
    return {"type": "MutationResponse", "requestId": rid, "success": True, "result": result, "ts": ts,
            "logLines": []}


@pytest.fixture
def state() -> ClientState:
    s = ClientState(session_id="session-1")
    s.on_open(client_ts=123)
    return s


# ------------------------------------------------------------------ connect and query set
def test_first_open_sends_connect_and_an_empty_query_set():
    s = ClientState(session_id="s")
    assert s.on_open(client_ts=5) == [
        {"type": "Connect", "sessionId": "s", "connectionCount": 0, "lastCloseReason": "InitialConnect",
         "maxObservedTimestamp": None, "clientTs": 5},
        {"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": []},
    ]
    with pytest.raises(RuntimeError):
        s.on_open()


def test_session_id_defaults_to_a_fresh_uuid():
    assert ClientState().session_id != ClientState().session_id
    assert len(ClientState().session_id) == 36


def test_subscribe_numbers_query_set_versions(state: ClientState):
    qid, msgs = state.subscribe("messages:list", {"channel": "a"})
    assert qid == 0
    assert msgs == [{"type": "ModifyQuerySet", "baseVersion": 1, "newVersion": 2, "modifications": [
        {"type": "Add", "queryId": 0, "udfPath": "messages:list", "args": {"channel": "a"}, "journal": None}]}]
    qid2, msgs2 = state.subscribe("messages:list", {"channel": "b"})
    assert qid2 == 1 and msgs2[0]["baseVersion"] == 2 and msgs2[0]["newVersion"] == 3  # type: ignore[typeddict-item]


def test_identical_subscriptions_share_a_query_id_until_the_last_unsubscribe(state: ClientState):
    qid, _ = state.subscribe("m:q", {"a": 1.0, "b": [1]})
    same, msgs = state.subscribe("m:q", {"b": [1], "a": 1.0})  # key order does not matter
    assert same == qid and msgs == []
    other, _ = state.subscribe("m:q", {"a": 1, "b": [1]})  # int64 1 is not float 1.0
    assert other != qid
    assert state.unsubscribe(qid) == []
    assert state.unsubscribe(qid) == [
        {"type": "ModifyQuerySet", "baseVersion": 3, "newVersion": 4,
         "modifications": [{"type": "Remove", "queryId": qid}]}]
    assert state.unsubscribe(qid) == []  # unknown now: nothing to do
    fresh, _ = state.subscribe("m:q", {"a": 1.0, "b": [1]})
    assert fresh not in (qid, other)  # query ids are never reused


def test_subscribe_while_disconnected_is_sent_on_open():
    s = ClientState(session_id="s")
    qid, msgs = s.subscribe("m:q", {})
    assert msgs == []
    assert s.on_open()[-1] == {"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
        {"type": "Add", "queryId": qid, "udfPath": "m:q", "args": {}, "journal": None}]}


def test_args_are_validated_and_copied_at_call_time(state: ClientState):
    with pytest.raises(InvalidValueError):
        state.subscribe("m:q", {"bad": object()})
    with pytest.raises(InvalidValueError):
        state.mutation("m:f", {"$bad": 1})
    with pytest.raises(TypeError):
        state.action("m:f", ["not", "a", "dict"])  # type: ignore[arg-type]
    args = {"items": [1.0]}
    _, msgs = state.mutation("m:f", args)
    args["items"].append(2.0)
    assert msgs[0]["args"] == {"items": [1.0]}  # type: ignore[typeddict-item]


# ------------------------------------------------------------------ transitions
def test_transition_delivers_results_and_checks_versions(state: ClientState):
    qid, _ = state.subscribe("m:q", {})
    events = state.receive(transition((0, 0, 0), (2, 0, 10), updated(qid, 1.0, journal="j1")))
    assert events == [QueryResult(qid, FunctionResult(True, 1.0))]
    assert state.result(qid) == FunctionResult(True, 1.0)
    assert state.remote_version == version(2, 0, 10) and state.max_observed_ts == 10
    with pytest.raises(ProtocolError, match="StartVersionMismatch"):
        state.receive(transition((0, 0, 0), (2, 0, 11)))
    with pytest.raises(ProtocolError, match="StartVersionMismatch"):
        state.receive(transition((2, 0, 9), (2, 0, 11)))
    with pytest.raises(ProtocolError, match="backwards"):
        state.receive(transition((2, 0, 10), (2, 0, 9)))
    with pytest.raises(ProtocolError, match="beyond"):
        state.receive(transition((2, 0, 10), (3, 0, 11)))
    with pytest.raises(ProtocolError, match="beyond"):
        state.receive(transition((2, 0, 10), (2, 1, 11)))
    assert state.remote_version == version(2, 0, 10)  # a rejected Transition changes nothing


def test_first_transition_on_a_socket_must_start_at_zero(state: ClientState):
    with pytest.raises(ProtocolError, match="StartVersionMismatch"):
        state.receive(transition((1, 0, 0), (1, 0, 5)))


def test_query_failures_keep_error_data_presence(state: ClientState):
    a, _ = state.subscribe("m:a", {})
    b, _ = state.subscribe("m:b", {})
    events = state.receive(transition((0, 0, 0), (3, 0, 1),
        {"type": "QueryFailed", "queryId": a, "errorMessage": "plain", "logLines": ["l"], "journal": None},
        {"type": "QueryFailed", "queryId": b, "errorMessage": "app", "logLines": [], "journal": None,
         "errorData": None},
    ))
    plain, app = (e.result for e in events if isinstance(e, QueryResult))
    with pytest.raises(ConvexExecutionError, match="plain"):
        plain.unwrap()
    with pytest.raises(ConvexError) as info:
        app.unwrap()
    assert info.value.data is None and str(info.value) == "app"
    assert plain.log_lines == ("l",)


def test_updates_for_queries_removed_locally_are_ignored(state: ClientState):
    qid, _ = state.subscribe("m:q", {})
    state.unsubscribe(qid)
    assert state.receive(transition((0, 0, 0), (2, 0, 1), updated(qid, 1.0))) == []
    assert state.receive(transition((2, 0, 1), (3, 0, 2), {"type": "QueryRemoved", "queryId": qid})) == []


# ------------------------------------------------------------------ read-your-writes
def test_mutation_resolves_only_once_a_transition_reaches_its_ts(state: ClientState):
    qid, _ = state.subscribe("m:count", {})
    state.receive(transition((0, 0, 0), (2, 0, 5), updated(qid, 0.0)))
    rid, msgs = state.mutation("m:inc", {"by": 1.0})
    assert msgs == [{"type": "Mutation", "requestId": rid, "udfPath": "m:inc", "args": {"by": 1.0}}]
    assert state.receive(mutation_ok(rid, "done", ts=20)) == []
    assert state.max_observed_ts == 20
    assert state.receive(transition((2, 0, 5), (2, 0, 19))) == []  # not yet
    events = state.receive(transition((2, 0, 19), (2, 0, 20), updated(qid, 1.0)))
    # The query result comes first: subscribers see the write before the caller returns.
    assert events == [QueryResult(qid, FunctionResult(True, 1.0)), RequestDone(rid, FunctionResult(True, "done"))]
    assert state.pending_requests == []


def test_mutation_already_covered_by_a_transition_resolves_at_once(state: ClientState):
    state.receive(transition((0, 0, 0), (1, 0, 50)))
    rid, _ = state.mutation("m:f", {})
    assert state.receive(mutation_ok(rid, None, ts=40)) == [RequestDone(rid, FunctionResult(True, None))]


def test_failures_and_actions_resolve_immediately(state: ClientState):
    m, _ = state.mutation("m:f", {})
    a, _ = state.action("a:f", {"x": b"1"})
    events = state.receive({"type": "MutationResponse", "requestId": m, "success": False, "result": "no",
                            "ts": None, "logLines": [], "errorData": {"code": 1}})
    assert events == [RequestDone(m, FunctionResult(False, "no", (), {"code": 1}, True))]
    events = state.receive({"type": "ActionResponse", "requestId": a, "success": True, "result": 2,
                            "logLines": ["[LOG] hi"]})
    assert events == [RequestDone(a, FunctionResult(True, 2, ("[LOG] hi",)))]


def test_unknown_and_mismatched_responses(state: ClientState):
    assert state.receive(mutation_ok(99, None, ts=1)) == []  # already settled: ignored, as JS does
    rid, _ = state.action("a:f", {})
    with pytest.raises(ProtocolError, match="MutationResponse for Action"):
        state.receive(mutation_ok(rid, None, ts=1))


def test_fatal_error_and_ping(state: ClientState):
    assert state.receive({"type": "Ping"}) == []
    assert state.receive({"type": "FatalError", "error": "BaseVersionMismatch"}) == [ServerFatal("BaseVersionMismatch")]


# ------------------------------------------------------------------ reconnect
def test_reconnect_replays_connect_auth_queries_and_unfinished_mutations(state: ClientState):
    state.set_auth("jwt")
    q1, _ = state.subscribe("m:a", {"x": 1.0})
    q2, _ = state.subscribe("m:b", {})
    state.receive(transition((0, 0, 0), (3, 1, 10), updated(q1, 1.0, journal="page-end")))
    done, _ = state.mutation("m:answered", {})
    waiting, _ = state.mutation("m:waiting", {})
    unanswered, _ = state.mutation("m:unanswered", {"n": 1})
    in_flight, _ = state.action("a:slow", {})
    state.receive(mutation_ok(done, 1.0, ts=10))  # covered by ts 10 already: done
    state.receive(mutation_ok(waiting, 2.0, ts=30))  # needs a Transition to 30

    assert state.on_close("closed with code 1006") == [RequestLost(in_flight, ACTION_LOST)]
    assert not state.connected
    queued, msgs = state.action("a:queued", {})
    assert msgs == []

    replay = state.on_open(client_ts=999)
    assert replay == [
        {"type": "Connect", "sessionId": "session-1", "connectionCount": 1,
         "lastCloseReason": "closed with code 1006", "maxObservedTimestamp": 30, "clientTs": 999},
        {"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": "jwt", "impersonating": None},
        {"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
            {"type": "Add", "queryId": q1, "udfPath": "m:a", "args": {"x": 1.0}, "journal": "page-end"},
            {"type": "Add", "queryId": q2, "udfPath": "m:b", "args": {}, "journal": None}]},
        {"type": "Mutation", "requestId": waiting, "udfPath": "m:waiting", "args": {}},
        {"type": "Mutation", "requestId": unanswered, "udfPath": "m:unanswered", "args": {"n": 1}},
        {"type": "Action", "requestId": queued, "udfPath": "a:queued", "args": {}},
    ]
    # The new socket starts from version zero again, and the replayed mutation resolves
    # on the new socket's first Transition at or past its ts.
    assert state.query_set_version == 1 and state.identity_version == 1
    events = state.receive(transition((0, 0, 0), (1, 1, 31)))
    assert RequestDone(waiting, FunctionResult(True, 2.0)) in events


def test_on_close_twice_is_harmless(state: ClientState):
    assert state.on_close("x") == []
    assert state.on_close("y") == []


def test_query_set_changes_while_disconnected_are_folded_into_the_replay(state: ClientState):
    q, _ = state.subscribe("m:a", {})
    state.on_close("gone")
    assert state.unsubscribe(q) == []
    q2, _ = state.subscribe("m:b", {})
    mqs = state.on_open()[-1]
    assert mqs["modifications"] == [  # type: ignore[typeddict-item]
        {"type": "Add", "queryId": q2, "udfPath": "m:b", "args": {}, "journal": None}]


# ------------------------------------------------------------------ auth
def test_auth_versions_and_confirmation(state: ClientState):
    assert state.set_auth("t1") == [
        {"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": "t1", "impersonating": None}]
    assert state.set_auth("t2")[0]["baseVersion"] == 1  # type: ignore[typeddict-item]
    # Only the Transition acknowledging every Authenticate confirms the current token.
    assert state.receive(transition((0, 0, 0), (1, 1, 1))) == []
    assert state.receive(transition((1, 1, 1), (1, 2, 2))) == [AuthChange(True)]
    assert state.receive(transition((1, 2, 2), (1, 2, 3))) == []
    assert state.clear_auth() == [
        {"type": "Authenticate", "baseVersion": 2, "tokenType": "None", "value": None, "impersonating": None}]
    assert state.clear_auth() == []  # nothing to clear
    assert state.receive(transition((1, 2, 3), (1, 3, 4))) == []


def test_admin_auth_carries_the_acting_as_identity(state: ClientState):
    msg = state.set_auth("admin-key", token_type="Admin", impersonating={"subject": "u"})
    assert msg == [{"type": "Authenticate", "baseVersion": 0, "tokenType": "Admin", "value": "admin-key",
                    "impersonating": {"subject": "u"}}]


def test_auth_error_drops_the_token_unless_it_is_about_an_older_one(state: ClientState):
    state.set_auth("old")
    state.set_auth("new")
    stale = {"type": "AuthError", "error": "old expired", "baseVersion": 0, "authUpdateAttempted": True}
    assert state.receive(stale) == []  # type: ignore[arg-type]
    assert state.has_auth
    current = {"type": "AuthError", "error": "bad token", "baseVersion": 1, "authUpdateAttempted": True}
    assert state.receive(current) == [AuthChange(False, "bad token")]  # type: ignore[arg-type]
    assert not state.has_auth
    state.on_close("closed with code 1000")
    assert [m["type"] for m in state.on_open()] == ["Connect", "ModifyQuerySet"]  # no Authenticate


def test_auth_set_before_connecting_is_sent_first():
    s = ClientState()
    assert s.set_auth("jwt") == []
    assert [m["type"] for m in s.on_open()] == ["Connect", "Authenticate", "ModifyQuerySet"]
    assert s.receive(transition((0, 0, 0), (1, 1, 1))) == [AuthChange(True)]


# ------------------------------------------------------------------ helpers
def test_backoff_doubles_with_jitter_up_to_the_cap():
    b = Backoff(initial=0.1, maximum=15.0, rand=lambda: 1.0)
    delays = [b.next_delay() for _ in range(12)]
    assert delays[:4] == pytest.approx([0.1, 0.2, 0.4, 0.8])
    assert delays[-1] == 15.0 and max(delays) == 15.0
    b.reset()
    assert b.next_delay() == pytest.approx(0.1)
    low = Backoff(rand=lambda: 0.0)
    assert low.next_delay() == pytest.approx(0.05)  # never zero: no tight reconnect loop


def test_function_path_accepts_strings_and_references():
    class Ref:
        path = "folder/file:fn"

    assert function_path("messages:list") == "messages:list"
    assert function_path(Ref()) == "folder/file:fn"
    with pytest.raises(TypeError, match="function path"):
        function_path(42)


def test_unwrap_raises_a_fresh_exception_each_time():
    failure = FunctionResult(False, "boom", (), {"k": 1}, True)
    errors = []
    for _ in range(2):
        with pytest.raises(ConvexError) as info:
            failure.unwrap()
        errors.append(info.value)
    assert errors[0] is not errors[1] and errors[0].data == {"k": 1}
