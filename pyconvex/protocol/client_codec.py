"""Client -> server messages: the server parses them, our Python client encodes them.

``parse_client_message`` is strict about what it relies on: every required field must be
there with its JSON type, integers must fit a u32, timestamps must be 12-character base64
u64s and ``args`` a one-element array of a Convex-JSON object (``[]`` means ``{}``).
It is lenient only where real clients differ (docs/protocol.md §3): JS and Rust order keys
differently, Rust names the admin acting-as identity ``acting_as``, ``journal`` and
``maxObservedTimestamp`` may be absent or ``null``, ``clientTs`` may be missing, and
unknown extra keys (``componentPath``) are ignored. A wrong message raises
:class:`ProtocolError` naming the message type and the field.

``encode_client_message`` writes what convex-js writes for the same message and leaves
out optional fields that are ``None`` (``lastCloseReason``, which JS sends as ``null``,
is always written).
"""

from __future__ import annotations

from typing import Any, cast

import orjson

from pyconvex.errors import InvalidValueError
from pyconvex.protocol.encoding import (
    MAX_U32,
    ProtocolError,
    decode_args,
    encode_args,
    encode_ts,
    field,
    optional,
    ts_field,
    u32,
)
from pyconvex.protocol.messages import (
    AddQuery,
    ClientMessage,
    Connect,
    ModifyQuerySet,
    Mutation,
    QuerySetModification,
    RemoveQuery,
)
from pyconvex.values import json_to_convex

_TOKEN_TYPES = ("User", "Admin", "None")


def parse_client_message(text: str | bytes) -> ClientMessage:
    """One WebSocket text frame from a client, decoded and validated."""
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise ProtocolError(f"message is not JSON: {e}") from None
    if type(msg) is dict and msg.get("type") == "Mutation":
        mutation = _well_formed_mutation(msg)
        if mutation is not None:
            return mutation
    if not isinstance(msg, dict):
        raise ProtocolError("message must be a JSON object")
    kind = msg.get("type")
    if kind == "Connect":
        return _parse_connect(msg)
    if kind == "ModifyQuerySet":
        return _parse_modify_query_set(msg)
    if kind in ("Mutation", "Action"):
        return cast(
            ClientMessage,
            {
                "type": kind,
                "requestId": u32(msg, "requestId", kind),
                "udfPath": field(msg, "udfPath", str, kind),
                "args": decode_args(field(msg, "args", list, kind), kind),
            },
        )
    if kind == "Authenticate":
        token_type = msg.get("tokenType")
        if token_type not in _TOKEN_TYPES:
            raise ProtocolError(
                f"Authenticate: field 'tokenType' must be one of User, Admin, None; "
                f"got {token_type!r}"
            )
        value = optional(msg, "value", str, "Authenticate")
        if token_type != "None" and value is None:
            raise ProtocolError(f"Authenticate: tokenType {token_type} needs a string 'value'")
        acting_as = msg.get("impersonating", msg.get("acting_as"))
        return {
            "type": "Authenticate",
            "baseVersion": u32(msg, "baseVersion", "Authenticate"),
            "tokenType": token_type,
            "value": value if token_type != "None" else None,
            "impersonating": acting_as,
        }
    if kind == "Event":
        return {
            "type": "Event",
            "eventType": field(msg, "eventType", str, "Event"),
            "event": msg.get("event"),
        }
    if "type" not in msg:
        raise ProtocolError("message has no 'type' field")
    raise ProtocolError(f"unknown message type {kind!r}")


def parse_mutation(text: str | bytes) -> Mutation | None:
    """``parse_client_message(text)`` for a Mutation as every client sends it (see
    ``_well_formed_mutation``), without its dispatch: the message a sync session takes
    as it arrives (``SyncSession.take_text``). None for anything else, a malformed
    message included: ``parse_client_message`` then reads it (and reports what is
    wrong)."""
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if type(msg) is dict and msg.get("type") == "Mutation":
        return _well_formed_mutation(msg)
    return None


def _well_formed_mutation(msg: dict[str, Any]) -> Mutation | None:
    """A Mutation as every client sends it (a u32 ``requestId``, a string ``udfPath``,
    ``args`` one object), read without the general checks' calls: the message a sync
    session gets most. None for anything else, which the general path then reads (and
    reports, if wrong) as it always has."""
    request_id, path, args = msg.get("requestId"), msg.get("udfPath"), msg.get("args")
    if (
        type(request_id) is not int
        or not 0 <= request_id <= MAX_U32
        or type(path) is not str
        or type(args) is not list
        or len(args) != 1
        or type(args[0]) is not dict
    ):
        return None
    value: Any  # (an object's Convex value: the args dict)
    try:
        value = json_to_convex(args[0])
    except (InvalidValueError, RecursionError):
        return None  # decode_args says what is wrong
    return {"type": "Mutation", "requestId": request_id, "udfPath": path, "args": value}


MAX_SESSION_ID = 256
"""Characters in a session id (the clients send a 36-character UUID)."""


def _session_id(msg: dict[str, Any]) -> str:
    """The session id keys the session's mutation records in storage: a NUL (which
    PostgreSQL's text refuses) or an unbounded length would fail the commit group the
    record rides in, so either is refused here, at the Connect."""
    session_id: str = field(msg, "sessionId", str, "Connect")
    if "\x00" in session_id or not 0 < len(session_id) <= MAX_SESSION_ID:
        raise ProtocolError(
            f"Connect: sessionId must be 1 to {MAX_SESSION_ID} characters without NUL "
            f"(got {len(session_id)} characters)"
        )
    return session_id


def _parse_connect(msg: dict[str, Any]) -> Connect:
    return {
        "type": "Connect",
        "sessionId": _session_id(msg),
        "connectionCount": u32(msg, "connectionCount", "Connect"),
        "lastCloseReason": optional(msg, "lastCloseReason", str, "Connect"),
        "maxObservedTimestamp": ts_field(msg, "maxObservedTimestamp", "Connect", required=False),
        "clientTs": optional(msg, "clientTs", (int, float), "Connect"),
    }


def _parse_modify_query_set(msg: dict[str, Any]) -> ModifyQuerySet:
    where = "ModifyQuerySet"
    base = u32(msg, "baseVersion", where)
    new = u32(msg, "newVersion", where)
    mods: list[QuerySetModification] = []
    for i, mod in enumerate(field(msg, "modifications", list, where)):
        if not isinstance(mod, dict):
            raise ProtocolError(f"{where}: modifications[{i}] must be an object")
        mtype = mod.get("type")
        if mtype == "Add":
            add: AddQuery = {
                "type": "Add",
                "queryId": u32(mod, "queryId", "Add"),
                "udfPath": field(mod, "udfPath", str, "Add"),
                "args": decode_args(field(mod, "args", list, "Add"), "Add"),
                "journal": optional(mod, "journal", str, "Add"),
            }
            mods.append(add)
        elif mtype == "Remove":
            remove: RemoveQuery = {"type": "Remove", "queryId": u32(mod, "queryId", "Remove")}
            mods.append(remove)
        else:
            raise ProtocolError(f"{where}: modifications[{i}] has unknown type {mtype!r}")
    return {"type": "ModifyQuerySet", "baseVersion": base, "newVersion": new, "modifications": mods}


def client_message_json(msg: ClientMessage) -> dict[str, Any]:
    """The wire JSON object of a client message (see the module docstring)."""
    m = cast(dict[str, Any], msg)
    kind = m["type"]
    if kind == "Connect":
        out: dict[str, Any] = {
            "type": "Connect",
            "sessionId": m["sessionId"],
            "connectionCount": m["connectionCount"],
            "lastCloseReason": m.get("lastCloseReason"),
        }
        if m.get("maxObservedTimestamp") is not None:
            out["maxObservedTimestamp"] = encode_ts(m["maxObservedTimestamp"])
        if m.get("clientTs") is not None:
            out["clientTs"] = m["clientTs"]
        return out
    if kind == "ModifyQuerySet":
        return {
            "type": "ModifyQuerySet",
            "baseVersion": m["baseVersion"],
            "newVersion": m["newVersion"],
            "modifications": [_modification_json(x) for x in m["modifications"]],
        }
    if kind in ("Mutation", "Action"):
        return {
            "type": kind,
            "requestId": m["requestId"],
            "udfPath": m["udfPath"],
            "args": encode_args(m["args"]),
        }
    if kind == "Authenticate":
        out = {"type": "Authenticate", "baseVersion": m["baseVersion"], "tokenType": m["tokenType"]}
        if m.get("value") is not None:
            out["value"] = m["value"]
        if m.get("impersonating") is not None:
            out["impersonating"] = m["impersonating"]
        return out
    if kind == "Event":
        return {"type": "Event", "eventType": m["eventType"], "event": m.get("event")}
    raise ValueError(f"unknown client message type {kind!r}")


def _modification_json(mod: QuerySetModification) -> dict[str, Any]:
    if mod["type"] == "Remove":
        return {"type": "Remove", "queryId": mod["queryId"]}
    out = {
        "type": "Add",
        "queryId": mod["queryId"],
        "udfPath": mod["udfPath"],
        "args": encode_args(mod["args"]),
    }
    if mod.get("journal") is not None:
        out["journal"] = mod["journal"]
    return out


def encode_client_message(msg: ClientMessage) -> str:
    """The text frame our client sends for ``msg``."""
    return orjson.dumps(client_message_json(msg)).decode("utf-8")
