"""Server -> client messages: the server encodes them, our Python client parses them.

What ``encode_server_message`` guarantees, because each point breaks a real client
(docs/protocol.md §4, §15):

- ``logLines`` is always present (JS iterates it; Rust fails to parse without it).
- ``errorData`` is present **only** for a ConvexError; a present ``null`` would make both
  clients report a ConvexError whose data is ``null``.
- ``clientClockSkew`` and ``serverTs`` are integers or absent, never ``null`` (JS then
  warns on every update) and never floats (Rust rejects the whole message).
- A successful ``MutationResponse`` carries its commit ``ts`` (JS decodes it blindly).
- Values are Convex JSON, so no raw ``NaN``/``Infinity`` can appear (``$float``).

``parse_server_message`` accepts what the Rust client accepts: the same required fields,
``null`` for the optional ones. ``TransitionChunk`` is refused; servers only send it to
npm clients that name their version in the URL, which ours never does.
"""

from __future__ import annotations

from typing import Any, cast

import orjson

from pyconvex.protocol.encoding import (
    ProtocolError,
    decode_value,
    encode_ts,
    field,
    log_lines,
    optional,
    ts_bytes,
    ts_field,
    u32,
)
from pyconvex.protocol.messages import (
    ActionResponse,
    MutationResponse,
    ServerMessage,
    StateModification,
    StateVersion,
    Transition,
)
from pyconvex.values import convex_to_json


# --------------------------------------------------------------------------- encode
def _version_json(v: StateVersion) -> dict[str, Any]:
    return {"querySet": v["querySet"], "identity": v["identity"], "ts": encode_ts(v["ts"])}


def _modification_json(mod: StateModification) -> dict[str, Any]:
    if mod["type"] == "QueryUpdated":
        return {
            "type": "QueryUpdated",
            "queryId": mod["queryId"],
            "value": mod["value"] if mod.get("encoded") else convex_to_json(mod["value"]),
            "logLines": mod.get("logLines", []),
            "journal": mod.get("journal"),
        }
    if mod["type"] == "QueryFailed":
        out = {
            "type": "QueryFailed",
            "queryId": mod["queryId"],
            "errorMessage": mod["errorMessage"],
            "logLines": mod.get("logLines", []),
            "journal": mod.get("journal"),
        }
        if "errorData" in mod:
            out["errorData"] = convex_to_json(mod["errorData"])
        return out
    if mod["type"] == "QueryRemoved":
        return {"type": "QueryRemoved", "queryId": mod["queryId"]}
    raise ValueError(f"unknown state modification type {mod['type']!r}")


def server_message_json(msg: ServerMessage) -> dict[str, Any]:
    """The wire JSON object of a server message (see the module docstring for the rules)."""
    if msg["type"] == "Transition":
        out: dict[str, Any] = {
            "type": "Transition",
            "startVersion": _version_json(msg["startVersion"]),
            "endVersion": _version_json(msg["endVersion"]),
            "modifications": [_modification_json(x) for x in msg["modifications"]],
        }
        skew, server_ts = msg.get("clientClockSkew"), msg.get("serverTs")
        if skew is not None:
            out["clientClockSkew"] = int(skew)
        if server_ts is not None:
            out["serverTs"] = int(server_ts)
        return out
    if msg["type"] == "MutationResponse" or msg["type"] == "ActionResponse":
        return _response_json(msg)
    if msg["type"] == "AuthError":
        return {
            "type": "AuthError",
            "error": msg["error"],
            "baseVersion": msg["baseVersion"],
            "authUpdateAttempted": msg["authUpdateAttempted"],
        }
    if msg["type"] == "FatalError":
        return {"type": "FatalError", "error": msg["error"]}
    if msg["type"] == "Ping":
        return {"type": "Ping"}
    raise ValueError(f"unknown server message type {msg['type']!r}")


def _response_json(msg: MutationResponse | ActionResponse) -> dict[str, Any]:
    out: dict[str, Any] = {"type": msg["type"], "requestId": msg["requestId"], "success": msg["success"]}
    out["result"] = convex_to_json(msg["result"]) if msg["success"] else str(msg["result"])
    if msg["type"] == "MutationResponse":
        ts = msg.get("ts")
        out["ts"] = encode_ts(ts) if ts is not None else None
    out["logLines"] = msg.get("logLines", [])
    if "errorData" in msg:
        out["errorData"] = convex_to_json(msg["errorData"])
    return out


def encode_server_message(msg: ServerMessage) -> str:
    """The text frame the server sends for ``msg``."""
    return orjson.dumps(server_message_json(msg)).decode("utf-8")


def encode_server_frame(msg: ServerMessage) -> bytes:
    """``encode_server_message`` as the UTF-8 bytes of the frame: the same bytes, with
    the two frames of every mutation (its response and the Transition that follows)
    made from byte templates instead of a JSON object each (``transition_frame``,
    ``_mutation_response_frame``)."""
    if msg["type"] == "Transition":
        return transition_frame(msg)
    if msg["type"] == "MutationResponse" and msg["success"] and "errorData" not in msg:
        frame = _mutation_response_frame(msg)
        if frame is not None:
            return frame
    return orjson.dumps(server_message_json(msg))


_TS_TEXT: dict[int, bytes] = {}
_TS_TEXT_KEPT = 256


def _ts_text(ts: int) -> bytes:
    """``ts_bytes(ts)``, remembered for the few timestamps in flight: a mutation's
    three are mostly one another's (its response's commit ts is the end of the
    Transition that covers it, whose start is the end of the one before), and every
    session confirming in one commit group shares them. Only a plain int is looked up
    (``True`` would find ``1``); anything else is ``ts_bytes``'s to check."""
    if type(ts) is int:
        text = _TS_TEXT.get(ts)
        if text is None:
            if len(_TS_TEXT) >= _TS_TEXT_KEPT:
                _TS_TEXT.clear()
            text = _TS_TEXT[ts] = ts_bytes(ts)
        return text
    return ts_bytes(ts)


_VERSIONS = (
    b'{"type":"Transition","startVersion":{"querySet":%d,"identity":%d,"ts":"%s"},'
    b'"endVersion":{"querySet":%d,"identity":%d,"ts":"%s"},"modifications":%s'
)
# The two forms a session sends (it always stamps ``serverTs``; ``clientClockSkew`` when
# the client sent its clock), each filled in one formatting.
_TRANSITION_SKEW_TS = _VERSIONS + b',"clientClockSkew":%d,"serverTs":%d}'
_TRANSITION_TS = _VERSIONS + b',"serverTs":%d}'


def transition_frame(msg: Transition) -> bytes:
    """A Transition's frame, byte for byte what ``orjson.dumps(server_message_json(msg))``
    gives: its versions from a template (``%d`` writes an int as JSON does; a version
    that is not a plain int goes the generic way), its modifications as JSON."""
    start, end = msg["startVersion"], msg["endVersion"]
    set0, id0, set1, id1 = start["querySet"], start["identity"], end["querySet"], end["identity"]
    ts0, ts1 = start["ts"], end["ts"]
    # One condition, not ``any`` over a generator (its frame and six resumptions).
    if not (type(set0) is int and type(id0) is int and type(set1) is int and type(id1) is int
            and type(ts0) is int and type(ts1) is int):
        return orjson.dumps(server_message_json(msg))  # (a bad ts raises there)
    mods = msg["modifications"]
    fields = (
        # Plain ints: their remembered text looked up here (``_ts_text`` if not there).
        set0, id0, _TS_TEXT.get(ts0) or _ts_text(ts0),
        set1, id1, _TS_TEXT.get(ts1) or _ts_text(ts1),
        orjson.dumps([_modification_json(x) for x in mods]) if mods else b"[]",
    )
    skew, server_ts = msg.get("clientClockSkew"), msg.get("serverTs")
    if server_ts is not None:
        if skew is not None:
            return _TRANSITION_SKEW_TS % (*fields, int(skew), int(server_ts))
        return _TRANSITION_TS % (*fields, int(server_ts))
    frame = _VERSIONS % fields
    if skew is not None:
        frame += b',"clientClockSkew":%d' % int(skew)
    return frame + b"}"


_MUTATION_RESPONSE = (
    b'{"type":"MutationResponse","requestId":%d,"success":true,"result":%s,"ts":"%s",'
    b'"logLines":%s}'
)
_MUTATION_RESPONSE_NO_TS = _MUTATION_RESPONSE.replace(b'"ts":"%s"', b'"ts":null')


def _mutation_response_frame(msg: MutationResponse) -> bytes | None:
    """A successful MutationResponse's frame from a template (None: a field of another
    type than the protocol's, left to the generic path); the same bytes. The result's
    JSON is ``result_json`` when the message carries it (encoded once, for the record)."""
    request_id = msg["requestId"]
    if type(request_id) is not int:
        return None
    result = msg.get("result_json")
    if result is None:
        result = orjson.dumps(convex_to_json(msg["result"]))
    ts = msg.get("ts")
    ts_text = None if ts is None else _ts_text(ts)
    lines = msg.get("logLines", [])
    lines_json = b"[]" if type(lines) is list and not lines else orjson.dumps(lines)
    if ts_text is None:
        return _MUTATION_RESPONSE_NO_TS % (request_id, result, lines_json)
    return _MUTATION_RESPONSE % (request_id, result, ts_text, lines_json)


# --------------------------------------------------------------------------- parse
def parse_server_message(text: str | bytes) -> ServerMessage:
    """One WebSocket text frame from a server, decoded and validated."""
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise ProtocolError(f"server message is not JSON: {e}") from None
    if not isinstance(msg, dict):
        raise ProtocolError("server message must be a JSON object")
    kind = msg.get("type")
    if kind == "Transition":
        return _parse_transition(msg)
    if kind in ("MutationResponse", "ActionResponse"):
        success = field(msg, "success", bool, kind)
        out: dict[str, Any] = {"type": kind, "requestId": u32(msg, "requestId", kind)}
        out["success"] = success
        if success:
            out["result"] = decode_value(msg.get("result"), "result", kind)
        else:
            out["result"] = field(msg, "result", str, kind)
        if kind == "MutationResponse":
            out["ts"] = ts_field(msg, "ts", kind, required=success)
        out["logLines"] = log_lines(msg, kind)
        if "errorData" in msg:
            out["errorData"] = decode_value(msg["errorData"], "errorData", kind)
        return cast(ServerMessage, out)
    if kind == "AuthError":
        base = None if msg.get("baseVersion") is None else u32(msg, "baseVersion", kind)
        return {
            "type": "AuthError",
            "error": field(msg, "error", str, kind),
            "baseVersion": base,
            "authUpdateAttempted": bool(optional(msg, "authUpdateAttempted", bool, kind)),
        }
    if kind == "FatalError":
        return {"type": "FatalError", "error": field(msg, "error", str, kind)}
    if kind == "Ping":
        return {"type": "Ping"}
    if kind == "TransitionChunk":
        raise ProtocolError("TransitionChunk is not supported by this client")
    raise ProtocolError(f"unknown server message type {kind!r}")


def _parse_version(msg: dict[str, Any], name: str) -> StateVersion:
    v = field(msg, name, dict, "Transition")
    where = f"Transition.{name}"
    ts = ts_field(v, "ts", where, required=True)
    assert ts is not None
    return {"querySet": u32(v, "querySet", where), "identity": u32(v, "identity", where), "ts": ts}


def _parse_transition(msg: dict[str, Any]) -> Transition:
    out: Transition = {
        "type": "Transition",
        "startVersion": _parse_version(msg, "startVersion"),
        "endVersion": _parse_version(msg, "endVersion"),
        "modifications": [
            _parse_modification(mod, i)
            for i, mod in enumerate(field(msg, "modifications", list, "Transition"))
        ],
    }
    skew = optional(msg, "clientClockSkew", int, "Transition")
    if skew is not None:
        out["clientClockSkew"] = skew
    server_ts = optional(msg, "serverTs", int, "Transition")
    if server_ts is not None:
        out["serverTs"] = server_ts
    return out


def _parse_modification(mod: Any, i: int) -> StateModification:
    if not isinstance(mod, dict):
        raise ProtocolError(f"Transition: modifications[{i}] must be an object")
    kind = mod.get("type")
    if kind == "QueryUpdated":
        if "value" not in mod:
            raise ProtocolError("QueryUpdated: missing field 'value'")
        return {
            "type": "QueryUpdated",
            "queryId": u32(mod, "queryId", kind),
            "value": decode_value(mod["value"], "value", kind),
            "logLines": log_lines(mod, kind),
            "journal": optional(mod, "journal", str, kind),
        }
    if kind == "QueryFailed":
        failed: dict[str, Any] = {
            "type": "QueryFailed",
            "queryId": u32(mod, "queryId", kind),
            "errorMessage": field(mod, "errorMessage", str, kind),
            "logLines": log_lines(mod, kind),
            "journal": optional(mod, "journal", str, kind),
        }
        if "errorData" in mod:
            failed["errorData"] = decode_value(mod["errorData"], "errorData", kind)
        return cast(StateModification, failed)
    if kind == "QueryRemoved":
        return {"type": "QueryRemoved", "queryId": u32(mod, "queryId", kind)}
    raise ProtocolError(f"Transition: modifications[{i}] has unknown type {kind!r}")
