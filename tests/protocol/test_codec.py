"""The wire codec: exact JSON of docs/protocol.md's examples, round trips of every message,
the rules that break real clients (errorData presence, logLines, no nulls, no NaN), u64
timestamps, and strict parsing that names the bad field."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyconvex.errors import BadRequestError
from pyconvex.protocol import (
    ClientMessage,
    ProtocolError,
    ServerMessage,
    decode_args,
    decode_ts,
    encode_client_message,
    encode_server_message,
    encode_ts,
    parse_client_message,
    parse_mutation,
    parse_server_message,
)

U64_MAX = 2**64 - 1


# ------------------------------------------------------------------ timestamps
@pytest.mark.parametrize(
    ("ts", "text"),
    [(0, "AAAAAAAAAAA="), (1, "AQAAAAAAAAA="), (1700000000123456789, "Fc2FPf6clxc="),
     (U64_MAX, "//////////8=")],
)
def test_ts_vectors(ts: int, text: str):
    assert encode_ts(ts) == text
    assert decode_ts(text) == ts


@given(st.integers(min_value=0, max_value=U64_MAX))
def test_ts_round_trip_over_u64(ts: int):
    text = encode_ts(ts)
    assert len(text) == 12 and text.endswith("=")
    assert decode_ts(text) == ts


@pytest.mark.parametrize("bad", [-1, 2**64, True, 1.0, "1"])
def test_encode_ts_rejects_non_u64(bad: Any):
    with pytest.raises(ValueError, match="u64"):
        encode_ts(bad)


@pytest.mark.parametrize("bad", ["AAAAAAAAAAA", "AAAAAAAAAAAAAAAA", "AAAAAAAA!AA=", "AAAAAAAAAAAA", 5, None])
def test_decode_ts_rejects_malformed(bad: Any):
    with pytest.raises(ProtocolError):
        decode_ts(bad)


def test_protocol_error_is_a_bad_request():
    err = ProtocolError("x")
    assert isinstance(err, BadRequestError) and err.short_msg == "ProtocolError"


# ------------------------------------------------------------------ client messages: docs/protocol.md examples
def test_parse_connect_example():
    msg = parse_client_message(
        '{"type":"Connect","sessionId":"24c746c0-a2e8-4fa3-9a87-31ea38344fc1","connectionCount":0,'
        '"lastCloseReason":"InitialConnect","clientTs":1795485612779}'
    )
    assert msg == {
        "type": "Connect", "sessionId": "24c746c0-a2e8-4fa3-9a87-31ea38344fc1", "connectionCount": 0,
        "lastCloseReason": "InitialConnect", "maxObservedTimestamp": None, "clientTs": 1795485612779,
    }


def test_parse_reconnect_connect_decodes_max_observed_timestamp():
    msg = parse_client_message(json.dumps({
        "type": "Connect", "sessionId": "s", "connectionCount": 1, "lastCloseReason": None,
        "maxObservedTimestamp": "Fc2FPf6clxc=", "clientTs": 0,
    }))
    assert msg["maxObservedTimestamp"] == 1700000000123456789  # type: ignore[typeddict-item]
    assert msg["lastCloseReason"] is None  # type: ignore[typeddict-item]


@pytest.mark.parametrize("session_id", ["", "a\x00b", "x" * 257])
def test_connect_refuses_a_session_id_that_cannot_key_stored_rows(session_id: str):
    """The session id keys each mutation's stored record: empty, over 256 characters or
    with a NUL (which PostgreSQL's text refuses) is a protocol error naming the field."""
    with pytest.raises(ProtocolError, match="sessionId must be 1 to 256 characters"):
        parse_client_message(json.dumps({"type": "Connect", "sessionId": session_id,
                                         "connectionCount": 0}))
    ok = parse_client_message(json.dumps({"type": "Connect", "sessionId": "x" * 256,
                                          "connectionCount": 0}))
    assert ok["sessionId"] == "x" * 256  # type: ignore[typeddict-item]


def test_parse_modify_query_set_example():
    msg = parse_client_message(
        '{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":['
        '{"type":"Add","queryId":0,"udfPath":"messages:list","args":[{}]},'
        '{"type":"Remove","queryId":3}]}'
    )
    assert msg == {
        "type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
            {"type": "Add", "queryId": 0, "udfPath": "messages:list", "args": {}, "journal": None},
            {"type": "Remove", "queryId": 3},
        ],
    }


def test_parse_mutation_and_action_examples():
    assert parse_client_message(
        '{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{"body":"hi-ws"}]}'
    ) == {"type": "Mutation", "requestId": 0, "udfPath": "messages:send", "args": {"body": "hi-ws"}}
    assert parse_client_message(
        '{"type":"Action","requestId":1,"udfPath":"actions:echo","args":[{"x":"y"}]}'
    ) == {"type": "Action", "requestId": 1, "udfPath": "actions:echo", "args": {"x": "y"}}


def test_args_are_convex_json_and_empty_array_means_no_args():
    msg = parse_client_message(json.dumps({
        "type": "Mutation", "requestId": 2, "udfPath": "m:f",
        "args": [{"n": 3.0, "i": {"$integer": "BQAAAAAAAAA="}, "b": {"$bytes": "aGVsbG8="}}],
    }))
    assert msg["args"] == {"n": 3.0, "i": 5, "b": b"hello"}  # type: ignore[typeddict-item]
    assert type(msg["args"]["n"]) is float  # type: ignore[typeddict-item]
    empty = parse_client_message('{"type":"Action","requestId":0,"udfPath":"a:b","args":[]}')
    assert empty["args"] == {}  # type: ignore[typeddict-item]
    # HTTP bodies may carry a bare object; the shared helper accepts both.
    assert decode_args({"x": 1}, "args") == {"x": 1.0}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"type":"Authenticate","baseVersion":0,"tokenType":"User","value":"jwt"}',
         {"tokenType": "User", "value": "jwt", "impersonating": None, "baseVersion": 0}),
        ('{"type":"Authenticate","baseVersion":1,"tokenType":"None"}',
         {"tokenType": "None", "value": None, "impersonating": None, "baseVersion": 1}),
        ('{"type":"Authenticate","baseVersion":0,"tokenType":"Admin","value":"k","impersonating":{"subject":"a"}}',
         {"tokenType": "Admin", "value": "k", "impersonating": {"subject": "a"}, "baseVersion": 0}),
        # The Rust client spells the acting-as identity `acting_as`.
        ('{"type":"Authenticate","baseVersion":0,"tokenType":"Admin","value":"k","acting_as":{"subject":"a"}}',
         {"tokenType": "Admin", "value": "k", "impersonating": {"subject": "a"}, "baseVersion": 0}),
    ],
)
def test_parse_authenticate(text: str, expected: dict[str, Any]):
    assert parse_client_message(text) == {"type": "Authenticate", **expected}


@pytest.mark.parametrize("args", [
    [{}], [], [{"body": "x" * 100}], [{"n": 1, "f": 2.5, "t": True, "z": None, "s": ""}],
    [{"i": {"$integer": "BQAAAAAAAAA="}, "b": {"$bytes": "aGVsbG8="}, "nan": {"$float": "AAAAAAAA+H8="}}],
    [{"deep": {"a": [1, {"b": [{"$integer": "AQAAAAAAAAA="}]}]}, "list": [[], {}]}],
    [{"$integer": "BQAAAAAAAAA="}],
])
@pytest.mark.parametrize("request_id", [0, 7, 2**32 - 1])
def test_a_mutation_reads_as_the_same_message_as_an_action(args: list[Any], request_id: int):
    """A Mutation is read by a shortcut, an Action by the general checks: the same
    fields give the same message (a NaN compares by its repr)."""
    fields = {"requestId": request_id, "udfPath": "m:f", "args": args}
    mutation = parse_client_message(json.dumps({"type": "Mutation", **fields}))
    action = parse_client_message(json.dumps({"type": "Action", **fields}))
    assert repr({**mutation, "type": "Action"}) == repr(action)
    assert type(mutation["requestId"]) is int  # type: ignore[typeddict-item]


def test_event_is_accepted():
    msg = parse_client_message('{"type":"Event","eventType":"ClientConnect","event":{"a":1}}')
    assert msg == {"type": "Event", "eventType": "ClientConnect", "event": {"a": 1}}


def test_unknown_keys_and_key_order_do_not_matter():
    msg = parse_client_message(
        '{"args":[{}],"udfPath":"m:f","requestId":4,"type":"Mutation","componentPath":null}'
    )
    assert msg == {"type": "Mutation", "requestId": 4, "udfPath": "m:f", "args": {}}


# ------------------------------------------------------------------ client messages: strictness
_MALFORMED: list[tuple[Any, str]] = [
    ("not json", "not JSON"),
    ([1, 2], "JSON object"),
    ({"sessionId": "s"}, "no 'type'"),
    ({"type": "Teleport"}, "unknown message type 'Teleport'"),
    ({"type": "Connect", "connectionCount": 0}, "Connect: missing field 'sessionId'"),
    ({"type": "Connect", "sessionId": 5, "connectionCount": 0}, "Connect: field 'sessionId' must be a string"),
    ({"type": "Connect", "sessionId": "s", "connectionCount": -1}, "Connect: field 'connectionCount' out of range"),
    ({"type": "Connect", "sessionId": "s", "connectionCount": 0, "maxObservedTimestamp": "xx"},
     "Connect: field 'maxObservedTimestamp'"),
    ({"type": "Connect", "sessionId": "s", "connectionCount": True}, "field 'connectionCount' must be an integer"),
    ({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1}, "ModifyQuerySet: missing field 'modifications'"),
    ({"type": "ModifyQuerySet", "baseVersion": "0", "newVersion": 1, "modifications": []},
     "ModifyQuerySet: field 'baseVersion' must be an integer"),
    ({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [{"type": "Add", "queryId": 0, "args": [{}]}]},
     "Add: missing field 'udfPath'"),
    ({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [{"type": "Add", "queryId": 0, "udfPath": "a:b"}]},
     "Add: missing field 'args'"),
    ({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [{"type": "Remove"}]},
     "Remove: missing field 'queryId'"),
    ({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [{"type": "Swap"}]},
     "modifications[0] has unknown type 'Swap'"),
    ({"type": "Mutation", "requestId": -1, "udfPath": "x:y", "args": [{}]}, "Mutation: field 'requestId' out of range"),
    ({"type": "Mutation", "requestId": 0, "udfPath": "x:y", "args": {"a": 1}}, "Mutation: field 'args' must be an array"),
    ({"type": "Mutation", "requestId": 0, "udfPath": "x:y", "args": [{}, {}]}, "args must be an array of one object"),
    ({"type": "Mutation", "requestId": 2**32, "udfPath": "x:y", "args": [{}]}, "Mutation: field 'requestId' out of range"),
    ({"type": "Mutation", "requestId": True, "udfPath": "x:y", "args": [{}]}, "field 'requestId' must be an integer"),
    ({"type": "Mutation", "requestId": 1.0, "udfPath": "x:y", "args": [{}]}, "field 'requestId' must be an integer"),
    ({"type": "Mutation", "udfPath": "x:y", "args": [{}]}, "Mutation: missing field 'requestId'"),
    ({"type": "Mutation", "requestId": 0, "udfPath": None, "args": [{}]}, "field 'udfPath' must be a string"),
    ({"type": "Mutation", "requestId": 0, "args": [{}]}, "Mutation: missing field 'udfPath'"),
    ({"type": "Mutation", "requestId": 0, "udfPath": "x:y", "args": [5]}, "Mutation: args must be an object"),
    ({"type": "Mutation", "requestId": 0, "udfPath": "x:y", "args": [{"$bad": 1}]}, "Mutation: invalid args"),
    ({"type": "Mutation", "requestId": 0, "udfPath": "x:y", "args": [{"a": {"b": {"$c": 1}}}]}, "Mutation: invalid args"),
    ({"type": "Mutation", "requestId": 0, "udfPath": "x:y", "args": [{"$key": 1, "b": 2}]}, "Mutation: invalid args"),
    ({"type": "Mutation", "requestId": 0, "udfPath": "x:y"}, "Mutation: missing field 'args'"),
    ({"type": "Action", "requestId": 0, "udfPath": "x:y", "args": [5]}, "Action: args must be an object"),
    ({"type": "Action", "requestId": 0, "udfPath": "x:y", "args": [{"$bad": 1}]}, "Action: invalid args"),
    ({"type": "Action", "requestId": 0, "udfPath": 7, "args": [{}]}, "Action: field 'udfPath' must be a string"),
    ({"type": "Authenticate", "baseVersion": 0, "tokenType": "Bearer", "value": "x"}, "field 'tokenType'"),
    ({"type": "Authenticate", "baseVersion": 0, "tokenType": "User"}, "tokenType User needs a string 'value'"),
    ({"type": "Authenticate", "tokenType": "None"}, "Authenticate: missing field 'baseVersion'"),
    ({"type": "Event", "event": {}}, "Event: missing field 'eventType'"),
]


@pytest.mark.parametrize(("message", "names"), _MALFORMED)
def test_malformed_client_messages_name_the_problem(message: Any, names: str):
    """(A Mutation's well-formed case is read by a shortcut: its every wrong field
    still gets the general path's error.)"""
    text = message if isinstance(message, str) else json.dumps(message)
    with pytest.raises(ProtocolError) as info:
        parse_client_message(text)
    assert names in info.value.message


@pytest.mark.parametrize(
    "message",
    ["not json", '{"type":"Mutation"', "[1]", '"Mutation"',
     '{"type":"Action","requestId":0,"udfPath":"x:y","args":[{}]}',
     '{"type":"Mutation","requestId":0,"udfPath":"x:y","args":[]}',
     *(json.dumps(m) for m, _ in _MALFORMED if isinstance(m, dict) and m.get("type") == "Mutation")],
)
def test_parse_mutation_declines_all_but_a_plain_mutation(message: str):
    """What a session takes as it arrives: anything else goes the general way."""
    assert parse_mutation(message) is None


@pytest.mark.parametrize("text", [
    '{"type":"Mutation","requestId":7,"udfPath":"m:f","args":[{"a":{"$integer":"BQAAAAAAAAA="}}]}',
    '{"args":[{}],"udfPath":"m:f","requestId":4,"type":"Mutation","componentPath":null}',
])
def test_parse_mutation_reads_a_plain_mutation_as_the_general_parse_does(text: str):
    assert parse_mutation(text) == parse_client_message(text)
    assert parse_mutation(text.encode()) == parse_client_message(text)


# ------------------------------------------------------------------ client messages: round trips
CLIENT_MESSAGES: list[ClientMessage] = [
    {"type": "Connect", "sessionId": "s-1", "connectionCount": 0, "lastCloseReason": "InitialConnect",
     "maxObservedTimestamp": None, "clientTs": 1795485612779},
    {"type": "Connect", "sessionId": "s-1", "connectionCount": 3, "lastCloseReason": None,
     "maxObservedTimestamp": 1700000000123456789, "clientTs": None},
    {"type": "ModifyQuerySet", "baseVersion": 2, "newVersion": 3, "modifications": [
        {"type": "Add", "queryId": 7, "udfPath": "messages:list", "args": {"n": 2.5, "i": -3, "b": b"\x00"},
         "journal": "j1"},
        {"type": "Add", "queryId": 8, "udfPath": "m", "args": {}, "journal": None},
        {"type": "Remove", "queryId": 1}]},
    {"type": "Mutation", "requestId": 9, "udfPath": "messages:send", "args": {"body": "hi", "nan": -0.0}},
    {"type": "Action", "requestId": 10, "udfPath": "actions:echo", "args": {"nested": [{"a": None}]}},
    {"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": "jwt", "impersonating": None},
    {"type": "Authenticate", "baseVersion": 1, "tokenType": "None", "value": None, "impersonating": None},
    {"type": "Authenticate", "baseVersion": 2, "tokenType": "Admin", "value": "key",
     "impersonating": {"subject": "u1"}},
    {"type": "Event", "eventType": "ClientConnect", "event": {"x": 1}},
]


@pytest.mark.parametrize("msg", CLIENT_MESSAGES, ids=lambda m: m["type"])
def test_client_message_round_trip(msg: ClientMessage):
    text = encode_client_message(msg)
    assert parse_client_message(text) == msg


def test_negative_zero_and_non_finite_args_survive():
    msg: ClientMessage = {"type": "Mutation", "requestId": 0, "udfPath": "m:f",
                          "args": {"z": -0.0, "nan": math.nan, "inf": -math.inf}}
    text = encode_client_message(msg)
    assert "NaN" not in text and "Infinity" not in text
    args = parse_client_message(text)["args"]  # type: ignore[typeddict-item]
    assert math.copysign(1, args["z"]) == -1 and math.isnan(args["nan"]) and args["inf"] == -math.inf


def test_encoded_client_messages_match_what_js_sends():
    assert json.loads(encode_client_message(CLIENT_MESSAGES[0])) == {
        "type": "Connect", "sessionId": "s-1", "connectionCount": 0,
        "lastCloseReason": "InitialConnect", "clientTs": 1795485612779,
    }
    assert json.loads(encode_client_message(CLIENT_MESSAGES[1]))["maxObservedTimestamp"] == "Fc2FPf6clxc="
    assert json.loads(encode_client_message(CLIENT_MESSAGES[3])) == {
        "type": "Mutation", "requestId": 9, "udfPath": "messages:send",
        "args": [{"body": "hi", "nan": {"$float": "AAAAAAAAAIA="}}],
    }
    mqs = json.loads(encode_client_message(CLIENT_MESSAGES[2]))["modifications"]
    assert mqs[0]["args"] == [{"n": 2.5, "i": {"$integer": "/f////////8="}, "b": {"$bytes": "AA=="}}]
    assert "journal" not in mqs[1]
    assert json.loads(encode_client_message(CLIENT_MESSAGES[6])) == {
        "type": "Authenticate", "baseVersion": 1, "tokenType": "None"}


# ------------------------------------------------------------------ server messages: docs/protocol.md examples
def _wire(msg: ServerMessage | dict[str, Any]) -> Any:
    return json.loads(encode_server_message(msg))


def test_transition_example_exact_json():
    msg: dict[str, Any] = {
        "type": "Transition",
        "startVersion": {"querySet": 1, "identity": 0, "ts": decode_ts("8zep0qbY6hg=")},
        "endVersion": {"querySet": 1, "identity": 0, "ts": decode_ts("7RE15KbY6hg=")},
        "modifications": [
            {"type": "QueryUpdated", "queryId": 0, "value": 2.0, "logLines": [], "journal": None},
            {"type": "QueryFailed", "queryId": 2, "errorMessage": "boom", "logLines": [], "journal": None},
            {"type": "QueryFailed", "queryId": 4, "errorMessage": "...", "errorData": {"code": "bad"},
             "logLines": [], "journal": None},
            {"type": "QueryRemoved", "queryId": 1},
        ],
        "clientClockSkew": 308, "serverTs": 1795485612765541094,
    }
    text = encode_server_message(msg)
    assert json.loads(text) == {
        "type": "Transition",
        "startVersion": {"querySet": 1, "identity": 0, "ts": "8zep0qbY6hg="},
        "endVersion": {"querySet": 1, "identity": 0, "ts": "7RE15KbY6hg="},
        "modifications": [
            {"type": "QueryUpdated", "queryId": 0, "value": 2.0, "logLines": [], "journal": None},
            {"type": "QueryFailed", "queryId": 2, "errorMessage": "boom", "logLines": [], "journal": None},
            {"type": "QueryFailed", "queryId": 4, "errorMessage": "...", "logLines": [], "journal": None,
             "errorData": {"code": "bad"}},
            {"type": "QueryRemoved", "queryId": 1},
        ],
        "clientClockSkew": 308, "serverTs": 1795485612765541094,
    }
    assert '"value":2.0' in text  # a JS number stays a float on the wire
    assert parse_server_message(text) == msg


def test_mutation_response_examples_exact_json():
    ok = {"type": "MutationResponse", "requestId": 0, "success": True, "result": "id1",
          "ts": decode_ts("0O8V5KbY6hg="), "logLines": ["[LOG] 'sent'"]}
    assert _wire(ok) == {"type": "MutationResponse", "requestId": 0, "success": True, "result": "id1",
                         "ts": "0O8V5KbY6hg=", "logLines": ["[LOG] 'sent'"]}
    failed = {"type": "MutationResponse", "requestId": 2, "success": False, "result": "msg",
              "ts": None, "logLines": [], "errorData": "nope"}
    assert _wire(failed) == {"type": "MutationResponse", "requestId": 2, "success": False, "result": "msg",
                             "ts": None, "logLines": [], "errorData": "nope"}
    action = {"type": "ActionResponse", "requestId": 1, "success": True, "result": {"x": "y"}, "logLines": []}
    assert _wire(action) == action


def test_error_data_key_present_only_for_convex_errors():
    plain = {"type": "ActionResponse", "requestId": 1, "success": False, "result": "Server Error", "logLines": []}
    assert "errorData" not in _wire(plain)
    assert "errorData" not in parse_server_message(encode_server_message(plain))
    with_null = {**plain, "errorData": None}
    assert _wire(with_null)["errorData"] is None
    assert parse_server_message(encode_server_message(with_null))["errorData"] is None  # type: ignore[typeddict-item]
    failed = {"type": "QueryFailed", "queryId": 0, "errorMessage": "x", "logLines": [], "journal": None}
    transition = {"type": "Transition", "startVersion": {"querySet": 0, "identity": 0, "ts": 0},
                  "endVersion": {"querySet": 1, "identity": 0, "ts": 5}, "modifications": [failed]}
    assert "errorData" not in _wire(transition)["modifications"][0]


def test_log_lines_always_present_and_optional_integers_never_null():
    msg = {"type": "Transition", "startVersion": {"querySet": 0, "identity": 0, "ts": 0},
           "endVersion": {"querySet": 1, "identity": 0, "ts": 5}, "clientClockSkew": None, "serverTs": None,
           "modifications": [{"type": "QueryUpdated", "queryId": 0, "value": None, "journal": None}]}
    wire = _wire(msg)
    assert "clientClockSkew" not in wire and "serverTs" not in wire
    assert wire["modifications"][0] == {"type": "QueryUpdated", "queryId": 0, "value": None,
                                        "logLines": [], "journal": None}
    assert _wire({"type": "MutationResponse", "requestId": 0, "success": True, "result": None, "ts": 9})["logLines"] == []


def test_values_are_convex_json_without_raw_nan():
    msg = {"type": "ActionResponse", "requestId": 0, "success": True, "logLines": [],
           "result": {"n": math.nan, "i": 42, "b": b"hello", "inf": math.inf}}
    text = encode_server_message(msg)
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)["result"] == {"n": {"$float": "AAAAAAAA+H8="}, "i": {"$integer": "KgAAAAAAAAA="},
                                          "b": {"$bytes": "aGVsbG8="}, "inf": {"$float": "AAAAAAAA8H8="}}


def test_pre_encoded_query_values_pass_through():
    msg = {"type": "Transition", "startVersion": {"querySet": 0, "identity": 0, "ts": 0},
           "endVersion": {"querySet": 1, "identity": 0, "ts": 5},
           "modifications": [{"type": "QueryUpdated", "queryId": 0, "value": {"$integer": "KgAAAAAAAAA="},
                              "encoded": True, "logLines": [], "journal": None}]}
    assert _wire(msg)["modifications"][0]["value"] == {"$integer": "KgAAAAAAAAA="}
    assert parse_server_message(encode_server_message(msg))["modifications"][0]["value"] == 42  # type: ignore[typeddict-item]


SERVER_MESSAGES: list[dict[str, Any]] = [
    {"type": "Transition", "startVersion": {"querySet": 0, "identity": 0, "ts": 0},
     "endVersion": {"querySet": 2, "identity": 1, "ts": 1700000000123456789},
     "modifications": [
         {"type": "QueryUpdated", "queryId": 0, "value": [1.5, {"k": b"\x01"}, 7], "logLines": ["[LOG] 'x'"],
          "journal": "j"},
         {"type": "QueryFailed", "queryId": 1, "errorMessage": "e", "logLines": [], "journal": None,
          "errorData": {"code": 3}},
         {"type": "QueryRemoved", "queryId": 2}],
     "serverTs": 12},
    {"type": "MutationResponse", "requestId": 3, "success": True, "result": {"id": "x"}, "ts": 77, "logLines": []},
    {"type": "MutationResponse", "requestId": 4, "success": False, "result": "bad", "ts": None, "logLines": ["l"]},
    {"type": "ActionResponse", "requestId": 5, "success": False, "result": "bad", "logLines": [], "errorData": None},
    {"type": "AuthError", "error": "expired", "baseVersion": 1, "authUpdateAttempted": True},
    {"type": "FatalError", "error": "BaseVersionMismatch"},
    {"type": "Ping"},
]


@pytest.mark.parametrize("msg", SERVER_MESSAGES, ids=lambda m: m["type"])
def test_server_message_round_trip(msg: dict[str, Any]):
    assert parse_server_message(encode_server_message(msg)) == msg


@pytest.mark.parametrize(
    ("message", "names"),
    [
        ("[", "not JSON"),
        ({"type": "TransitionChunk", "chunk": "", "partNumber": 0, "totalParts": 1}, "TransitionChunk"),
        ({"type": "Nope"}, "unknown server message type 'Nope'"),
        ({"type": "Transition", "endVersion": {"querySet": 0, "identity": 0, "ts": "AAAAAAAAAAA="},
          "modifications": []}, "Transition: missing field 'startVersion'"),
        ({"type": "Transition", "startVersion": {"querySet": 0, "identity": 0, "ts": "AAAA"},
          "endVersion": {"querySet": 0, "identity": 0, "ts": "AAAAAAAAAAA="}, "modifications": []},
         "Transition.startVersion: field 'ts'"),
        ({"type": "Transition", "startVersion": {"querySet": 0, "identity": 0, "ts": "AAAAAAAAAAA="},
          "endVersion": {"querySet": 0, "identity": 0, "ts": "AAAAAAAAAAA="},
          "modifications": [{"type": "QueryUpdated", "queryId": 0, "value": 1.0, "journal": None}]},
         "QueryUpdated: missing field 'logLines'"),
        ({"type": "Transition", "startVersion": {"querySet": 0, "identity": 0, "ts": "AAAAAAAAAAA="},
          "endVersion": {"querySet": 0, "identity": 0, "ts": "AAAAAAAAAAA="}, "serverTs": 1.5e18,
          "modifications": []}, "field 'serverTs' must be an integer"),
        ({"type": "MutationResponse", "requestId": 0, "success": True, "result": None, "logLines": []},
         "MutationResponse: missing field 'ts'"),
        ({"type": "ActionResponse", "requestId": 0, "success": False, "result": 5, "logLines": []},
         "ActionResponse: field 'result' must be a string"),
        ({"type": "ActionResponse", "requestId": 0, "success": True, "result": {"$set": []}, "logLines": []},
         "ActionResponse: field 'result' is not Convex JSON"),
        ({"type": "FatalError"}, "FatalError: missing field 'error'"),
    ],
)
def test_malformed_server_messages_name_the_problem(message: Any, names: str):
    text = message if isinstance(message, str) else json.dumps(message)
    with pytest.raises(ProtocolError) as info:
        parse_server_message(text)
    assert names in info.value.message
