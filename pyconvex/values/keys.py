"""Order-preserving, prefix-free byte encoding of index keys (tuple-layer style).

Rules (each element starts with a type tag in 0x01..0x09):

1. MISSING (an absent field) 0x01; null 0x02.
2. int64 0x03 + 8 bytes big-endian of ``n + 2**63`` (the sign bit flipped).
3. float64 0x04 + 8 bytes: the IEEE bits, big-endian, all inverted when the sign bit is
   set, else only the sign bit flipped; this is IEEE total order (-NaN < -inf < ... <
   -0.0 < 0.0 < ... < inf < NaN), the same as ``compare_values``.
4. boolean 0x05 + 0x00 / 0x01.
5. string 0x06 + UTF-8 with every 0x00 written 0x00 0xFF, then 0x00.
6. bytes 0x07 + the bytes escaped the same way, then 0x00.
7. array 0x08 + each element, then 0x00 (below every tag, so a prefix sorts first).
8. object 0x09 + for each field in key order: the key escaped as in 5 plus 0x00, then
   the value; then 0x00 (keys are non-empty printable ASCII, so 0x00 ends the object).

A key is the concatenation of its elements. No element encoding is a prefix of another,
and none starts with 0xFF, so ``prefix + b"\\xff"`` bounds every key with that prefix.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from pyconvex.errors import InvalidValueError
from pyconvex.values.types import INT64_MAX, INT64_MIN, MISSING, Missing, Value

TAG_MISSING = 0x01
TAG_NULL = 0x02
TAG_INT = 0x03
TAG_FLOAT = 0x04
TAG_BOOL = 0x05
TAG_STRING = 0x06
TAG_BYTES = 0x07
TAG_ARRAY = 0x08
TAG_OBJECT = 0x09
KEY_MAX_SUFFIX = b"\xff"

_U64 = struct.Struct(">Q")
_D = struct.Struct(">d")
_SIGN = 1 << 63
_ALL = (1 << 64) - 1


def float_sort_bits(x: float) -> int:
    bits: int = _U64.unpack(_D.pack(x))[0]
    return bits ^ _ALL if bits & _SIGN else bits ^ _SIGN


def _float_from_bits(bits: int) -> float:
    raw = bits ^ _SIGN if bits & _SIGN else bits ^ _ALL
    value: float = _D.unpack(_U64.pack(raw))[0]
    return value


def _escape(data: bytes) -> bytes:
    return data.replace(b"\x00", b"\x00\xff") + b"\x00" if b"\x00" in data else data + b"\x00"


def _encode(value: Any, out: list[bytes]) -> None:
    t = type(value)
    if t is str:
        out.append(b"\x06")
        out.append(_escape(value.encode("utf-8")))
    elif t is float:
        out.append(b"\x04" + _U64.pack(float_sort_bits(value)))
    elif value is None:
        out.append(b"\x02")
    elif t is bool:
        out.append(b"\x05\x01" if value else b"\x05\x00")
    elif t is int:
        if not INT64_MIN <= value <= INT64_MAX:
            raise InvalidValueError(f"integer {value} does not fit in int64")
        out.append(b"\x03" + _U64.pack(value + _SIGN))
    elif value is MISSING:
        out.append(b"\x01")
    elif t is bytes:
        out.append(b"\x07")
        out.append(_escape(value))
    elif t is list:
        out.append(b"\x08")
        for item in value:
            _encode(item, out)
        out.append(b"\x00")
    elif t is dict:
        out.append(b"\x09")
        for key in sorted(value):
            out.append(_escape(key.encode("utf-8")))
            _encode(value[key], out)
        out.append(b"\x00")
    elif isinstance(value, str):
        _encode(str(value), out)
    elif isinstance(value, bool):
        _encode(bool(value), out)
    elif isinstance(value, int):
        _encode(int(value), out)
    elif isinstance(value, float):
        _encode(float(value), out)
    elif isinstance(value, dict):
        _encode(dict(value), out)
    else:
        raise InvalidValueError(f"{type(value).__name__} is not a Convex value")


def encode_value(value: Value | Missing) -> bytes:
    out: list[bytes] = []
    _encode(value, out)
    return b"".join(out)


_INT_ELEMENT = struct.Struct(">BQ")


def int64_element(n: int) -> bytes:
    """``encode_element(n)`` for a plain int its caller knows to be in the int64 range,
    packed in one call without the type dispatch and range check (a hot caller: the
    request id in every WebSocket mutation's record key, ``database/session_requests.py``)."""
    return _INT_ELEMENT.pack(TAG_INT, n + _SIGN)


def encode_element(value: Value | Missing) -> bytes:
    """``encode_value(value)``, with strings (an ``Id`` too), floats (most indexed
    fields, every ``_id`` and ``_creationTime``) and int64s encoded without a list and a
    join, and the common cases without a call (a string without NUL needs no escaping;
    a positive float's key is the big-endian bits of its negation): every write encodes
    a few."""
    if isinstance(value, str):
        if "\x00" in value:
            return b"\x06" + _escape(value.encode("utf-8"))
        return b"\x06" + value.encode("utf-8") + b"\x00"
    if type(value) is float:
        if value > 0.0:
            # The sign bit is clear, so rule 3 sets it, which is what negating does:
            # every _creationTime, most numbers.
            return b"\x04" + _D.pack(-value)
        return b"\x04" + _U64.pack(float_sort_bits(value))
    if type(value) is int and INT64_MIN <= value <= INT64_MAX:
        return b"\x03" + _U64.pack(value + _SIGN)  # an int64 (a request id, a counter)
    return encode_value(value)


def encode_key(values: Sequence[Value | Missing]) -> bytes:
    out: list[bytes] = []
    for value in values:
        _encode(value, out)
    return b"".join(out)


def prefix_end(prefix: bytes) -> bytes:
    """An exclusive upper bound of every key that starts with ``prefix``."""
    return prefix + KEY_MAX_SUFFIX


def _unescape(data: bytes, pos: int) -> tuple[bytes, int]:
    out = bytearray()
    while True:
        end = data.index(b"\x00", pos)
        out += data[pos:end]
        if end + 1 < len(data) and data[end + 1] == 0xFF:
            out.append(0)
            pos = end + 2
            continue
        return bytes(out), end + 1


def _decode(data: bytes, pos: int) -> tuple[Any, int]:
    tag = data[pos]
    pos += 1
    if tag == TAG_STRING:
        raw, pos = _unescape(data, pos)
        return raw.decode("utf-8"), pos
    if tag == TAG_FLOAT:
        return _float_from_bits(_U64.unpack_from(data, pos)[0]), pos + 8
    if tag == TAG_INT:
        return _U64.unpack_from(data, pos)[0] - _SIGN, pos + 8
    if tag == TAG_NULL:
        return None, pos
    if tag == TAG_MISSING:
        return MISSING, pos
    if tag == TAG_BOOL:
        return data[pos] == 1, pos + 1
    if tag == TAG_BYTES:
        return _unescape(data, pos)
    if tag == TAG_ARRAY:
        items = []
        while data[pos] != 0:
            item, pos = _decode(data, pos)
            items.append(item)
        return items, pos + 1
    if tag == TAG_OBJECT:
        obj: dict[str, Any] = {}
        while data[pos] != 0:
            raw, pos = _unescape(data, pos)
            obj[raw.decode("utf-8")], pos = _decode(data, pos)
        return obj, pos + 1
    raise InvalidValueError(f"invalid key encoding: tag {tag:#x} at {pos - 1}")


def decode_key(data: bytes) -> tuple[Value | Missing, ...]:
    out = []
    pos = 0
    while pos < len(data):
        value, pos = _decode(data, pos)
        out.append(value)
    return tuple(out)
