"""The wire codec of the sync protocol: the only place that knows its JSON shapes.

- Timestamps (u64) travel as 8 little-endian bytes in standard base64 (12 chars).
- ``args`` travel as a one-element array holding a Convex-JSON object (``[]`` = ``{}``).
- Values inside ``value``/``result``/``errorData`` are Convex JSON.
- ``logLines`` is always present; ``errorData`` only for a ConvexError (a present
  ``null`` would make clients think the error carried data); ``clientClockSkew`` and
  ``serverTs`` are integers or absent, never null (protocol.md §15).
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Any, cast

import orjson

from pyconvex.errors import BadRequestError, InvalidValueError
from pyconvex.protocol.messages import ClientMessage, ServerMessage, StateVersion
from pyconvex.values import convex_to_json, json_to_convex

_U64 = struct.Struct("<Q")
MAX_U32 = 2**32 - 1


class ProtocolError(BadRequestError):
    """A client message that is malformed or out of order; the message says which."""

    short_msg = "ProtocolError"


def encode_ts(ts: int) -> str:
    return base64.b64encode(_U64.pack(ts)).decode("ascii")


def decode_ts(text: str) -> int:
    if not isinstance(text, str):
        raise ProtocolError(f"timestamp must be a base64 string, got {text!r}")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(f"invalid timestamp {text!r}") from None
    if len(raw) != 8:
        raise ProtocolError(f"timestamp {text!r} is not 8 bytes")
    return int(_U64.unpack(raw)[0])


def _field(msg: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    if name not in msg:
        raise ProtocolError(f"{where}: missing field '{name}'")
    value = msg[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ProtocolError(f"{where}: field '{name}' has the wrong type ({value!r})")
    return value


def _u32(msg: dict[str, Any], name: str, where: str) -> int:
    value = _field(msg, name, int, where)
    if not 0 <= value <= MAX_U32:
        raise ProtocolError(f"{where}: field '{name}' out of range ({value})")
    return cast(int, value)


def decode_args(args: Any, where: str) -> dict[str, Any]:
    """``[obj]`` (or ``[]``, or a bare object over HTTP) -> the args dict."""
    if isinstance(args, list):
        if not args:
            return {}
        if len(args) != 1:
            raise ProtocolError(f"{where}: args must be an array of one object")
        args = args[0]
    if not isinstance(args, dict):
        raise ProtocolError(f"{where}: args must be an object, got {type(args).__name__}")
    try:
        value = json_to_convex(args)
    except InvalidValueError as e:
        raise ProtocolError(f"{where}: invalid args: {e}") from None
    assert isinstance(value, dict)
    return value


def parse_client_message(text: str | bytes) -> ClientMessage:
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise ProtocolError(f"message is not JSON: {e}") from None
    if not isinstance(msg, dict):
        raise ProtocolError("message must be a JSON object")
    kind = msg.get("type")
    where = str(kind)
    if kind == "Connect":
        out: dict[str, Any] = {
            "type": "Connect",
            "sessionId": _field(msg, "sessionId", str, where),
            "connectionCount": _u32(msg, "connectionCount", where),
            "lastCloseReason": msg.get("lastCloseReason"),
        }
        mot = msg.get("maxObservedTimestamp")
        out["maxObservedTimestamp"] = decode_ts(mot) if mot is not None else None
        client_ts = msg.get("clientTs")
        out["clientTs"] = client_ts if isinstance(client_ts, (int, float)) else None
        return cast(ClientMessage, out)
    if kind == "ModifyQuerySet":
        mods = _field(msg, "modifications", list, where)
        parsed = []
        for mod in mods:
            if not isinstance(mod, dict):
                raise ProtocolError(f"{where}: modification must be an object")
            mtype = mod.get("type")
            if mtype == "Add":
                journal = mod.get("journal")
                parsed.append(
                    {
                        "type": "Add",
                        "queryId": _u32(mod, "queryId", "Add"),
                        "udfPath": _field(mod, "udfPath", str, "Add"),
                        "args": decode_args(mod.get("args", []), "Add"),
                        "journal": journal if isinstance(journal, str) else None,
                    }
                )
            elif mtype == "Remove":
                parsed.append({"type": "Remove", "queryId": _u32(mod, "queryId", "Remove")})
            else:
                raise ProtocolError(f"{where}: unknown modification type {mtype!r}")
        return cast(
            ClientMessage,
            {
                "type": "ModifyQuerySet",
                "baseVersion": _u32(msg, "baseVersion", where),
                "newVersion": _u32(msg, "newVersion", where),
                "modifications": parsed,
            },
        )
    if kind in ("Mutation", "Action"):
        return cast(
            ClientMessage,
            {
                "type": kind,
                "requestId": _u32(msg, "requestId", where),
                "udfPath": _field(msg, "udfPath", str, where),
                "args": decode_args(msg.get("args", []), where),
            },
        )
    if kind == "Authenticate":
        token_type = msg.get("tokenType")
        if token_type not in ("User", "Admin", "None"):
            raise ProtocolError(f"{where}: unknown tokenType {token_type!r}")
        value = msg.get("value")
        if token_type != "None" and not isinstance(value, str):
            raise ProtocolError(f"{where}: tokenType {token_type} needs a string value")
        return cast(
            ClientMessage,
            {
                "type": "Authenticate",
                "baseVersion": _u32(msg, "baseVersion", where),
                "tokenType": token_type,
                "value": value,
                "impersonating": msg.get("impersonating", msg.get("acting_as")),
            },
        )
    if kind == "Event":
        return cast(
            ClientMessage,
            {"type": "Event", "eventType": str(msg.get("eventType")), "event": msg.get("event")},
        )
    raise ProtocolError(f"unknown message type {kind!r}")


def _version(v: StateVersion) -> dict[str, Any]:
    return {"querySet": v["querySet"], "identity": v["identity"], "ts": encode_ts(v["ts"])}


def _modification(mod: dict[str, Any]) -> dict[str, Any]:
    kind = mod["type"]
    if kind == "QueryUpdated":
        return {
            "type": "QueryUpdated",
            "queryId": mod["queryId"],
            "value": mod["value"] if mod.get("encoded") else convex_to_json(mod["value"]),
            "logLines": mod.get("logLines", []),
            "journal": mod.get("journal"),
        }
    if kind == "QueryFailed":
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
    return {"type": "QueryRemoved", "queryId": mod["queryId"]}


def server_message_json(msg: ServerMessage | dict[str, Any]) -> dict[str, Any]:
    """The wire JSON object of a server message (see module docstring for the rules)."""
    m = cast(dict[str, Any], msg)
    kind = m["type"]
    if kind == "Transition":
        out: dict[str, Any] = {
            "type": "Transition",
            "startVersion": _version(m["startVersion"]),
            "endVersion": _version(m["endVersion"]),
            "modifications": [_modification(x) for x in m["modifications"]],
        }
        for key in ("clientClockSkew", "serverTs"):
            if m.get(key) is not None:
                out[key] = int(m[key])
        return out
    if kind in ("MutationResponse", "ActionResponse"):
        out = {"type": kind, "requestId": m["requestId"], "success": m["success"]}
        out["result"] = convex_to_json(m["result"]) if m["success"] else str(m["result"])
        if kind == "MutationResponse":
            ts = m.get("ts")
            out["ts"] = encode_ts(ts) if ts is not None else None
        out["logLines"] = m.get("logLines", [])
        if "errorData" in m:
            out["errorData"] = convex_to_json(m["errorData"])
        return out
    if kind == "AuthError":
        return {
            "type": "AuthError",
            "error": m["error"],
            "baseVersion": m["baseVersion"],
            "authUpdateAttempted": m["authUpdateAttempted"],
        }
    if kind == "FatalError":
        return {"type": "FatalError", "error": m["error"]}
    if kind == "Ping":
        return {"type": "Ping"}
    raise ValueError(f"unknown server message type {kind!r}")


def encode_server_message(msg: ServerMessage | dict[str, Any]) -> str:
    return orjson.dumps(server_message_json(msg)).decode("utf-8")
