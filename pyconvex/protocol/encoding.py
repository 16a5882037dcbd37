"""The primitives every sync-protocol message is built from, and the one error they raise.

- Timestamps (u64) travel as their 8 **little-endian** bytes in **standard base64 with
  padding**: always 12 characters (0 -> ``"AAAAAAAAAAA="``). This module is the only place
  that converts; everything above it holds timestamps as Python ``int``.
- Envelope integers (``queryId``, ``requestId``, versions, counts) are plain JSON
  non-negative integers that fit in a u32 (the Rust client's types).
- Function ``args`` travel as a JSON array holding **one** Convex-JSON object;
  older clients sent ``[]``, which means ``{}`` (docs/protocol.md §2).
- Values (``value``, ``result``, ``errorData``) are Convex JSON (``pyconvex.values.json``).

The field helpers take ``where`` (the message or modification type) so that every
:class:`ProtocolError` names the message and the field that was wrong: a client that
sent a bad frame learns exactly what to fix from the FatalError it gets back.
"""

from __future__ import annotations

import base64
import binascii
import struct
from binascii import b2a_base64
from typing import Any, cast

from pyconvex.errors import BadRequestError, InvalidValueError
from pyconvex.values import convex_to_json, json_to_convex

_U64 = struct.Struct("<Q")
MAX_U32 = 2**32 - 1
MAX_U64 = 2**64 - 1


class ProtocolError(BadRequestError):
    """A sync-protocol message that is malformed or out of order; the message says which
    message and field were wrong."""

    short_msg = "ProtocolError"


# ------------------------------------------------------------------------ timestamps
def encode_ts(ts: int) -> str:
    """A u64 timestamp as 12 characters of base64 (8 bytes, little-endian).

    >>> encode_ts(1)
    'AQAAAAAAAAA='
    """
    return ts_bytes(ts).decode("ascii")


def ts_bytes(ts: int) -> bytes:
    """:func:`encode_ts` as ASCII bytes, for frames built from byte templates
    (``server_codec.py``, which remembers the text of the timestamps in flight). Base64 by
    ``binascii`` directly (``base64.b64encode`` is a Python wrapper around it)."""
    if isinstance(ts, bool) or not isinstance(ts, int) or not 0 <= ts <= MAX_U64:
        raise ValueError(f"timestamp must be an int in the u64 range, got {ts!r}")
    return b2a_base64(_U64.pack(ts), newline=False)


def decode_ts(text: str) -> int:
    """The inverse of :func:`encode_ts`; raises :class:`ProtocolError` for anything that
    is not 12 characters of base64 holding exactly 8 bytes."""
    if not isinstance(text, str):
        raise ProtocolError(f"timestamp must be a base64 string, got {text!r}")
    if len(text) != 12:
        raise ProtocolError(f"timestamp {text!r} must be 12 base64 characters (8 bytes)")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(f"invalid timestamp {text!r}: not base64") from None
    if len(raw) != 8:
        raise ProtocolError(f"timestamp {text!r} is not 8 bytes")
    return int(_U64.unpack(raw)[0])


# ------------------------------------------------------------------------ fields
def field(msg: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    """A required field of the given JSON type (``bool`` never passes for ``int``)."""
    if name not in msg:
        raise ProtocolError(f"{where}: missing field '{name}'")
    value = msg[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
        raise ProtocolError(
            f"{where}: field '{name}' must be {_kind_name(kind)}, got {_json_type(value)}"
        )
    return value


def optional(msg: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    """An optional field: absent and ``null`` both read as ``None``."""
    if msg.get(name) is None:
        return None
    return field(msg, name, kind, where)


def u32(msg: dict[str, Any], name: str, where: str) -> int:
    value = cast(int, field(msg, name, int, where))
    if not 0 <= value <= MAX_U32:
        raise ProtocolError(f"{where}: field '{name}' out of range ({value}); expected a u32")
    return value


def ts_field(msg: dict[str, Any], name: str, where: str, *, required: bool) -> int | None:
    """A timestamp field; ``required=False`` lets it be absent or ``null``."""
    if not required and msg.get(name) is None:
        return None
    text = field(msg, name, str, where)
    try:
        return decode_ts(text)
    except ProtocolError as e:
        raise ProtocolError(f"{where}: field '{name}': {e.message}") from None


def log_lines(msg: dict[str, Any], where: str) -> list[str]:
    lines = field(msg, "logLines", list, where)
    if not all(isinstance(line, str) for line in lines):
        raise ProtocolError(f"{where}: field 'logLines' must be an array of strings")
    return cast(list[str], lines)


def decode_value(obj: Any, name: str, where: str) -> Any:
    """A Convex-JSON field decoded to a Python value."""
    try:
        return json_to_convex(obj)
    except InvalidValueError as e:
        raise ProtocolError(f"{where}: field '{name}' is not Convex JSON: {e.message}") from None


def decode_args(args: Any, where: str) -> dict[str, Any]:
    """``[obj]`` (or ``[]``, or a bare object over HTTP) -> the args dict."""
    if isinstance(args, list):
        if not args:
            return {}
        if len(args) != 1:
            raise ProtocolError(f"{where}: args must be an array of one object")
        args = args[0]
    if not isinstance(args, dict):
        raise ProtocolError(f"{where}: args must be an object, got {_json_type(args)}")
    try:
        value = json_to_convex(args)
    except InvalidValueError as e:
        raise ProtocolError(f"{where}: invalid args: {e.message}") from None
    except RecursionError:  # far past the nesting limit (16): a bad request, not a crash
        raise ProtocolError(f"{where}: args are nested too deeply") from None
    return cast(dict[str, Any], value)


def encode_args(args: dict[str, Any]) -> list[Any]:
    """The wire form of function arguments: a one-element array of Convex JSON.

    Raises ``InvalidValueError`` (from ``pyconvex.values``) for a value Convex cannot hold.
    """
    return [convex_to_json(args)]


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
          list: "an array", dict: "an object"}


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return " or ".join(_NAMES.get(k, k.__name__) for k in _kinds(kind))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return _NAMES.get(type(value), type(value).__name__)
