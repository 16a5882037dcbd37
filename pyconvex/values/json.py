"""Convex JSON: how values cross the wire and are stored.

Rules (docs/protocol.md §9): int64 -> ``{"$integer": base64(8 bytes LE)}``; float64 finite
and not -0.0 -> a JSON number, NaN/±inf/-0.0 -> ``{"$float": base64(8 bytes LE)}``;
bytes -> ``{"$bytes": base64}``; object keys are printable ASCII, at most 1024 chars,
not starting with ``$``. A plain JSON number always decodes as float64 (Python float).
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from typing import Any

import orjson

from pyconvex.errors import InvalidValueError
from pyconvex.values.types import INT64_MAX, INT64_MIN, Value

_copysign = math.copysign
_I64 = struct.Struct("<q")
_F64 = struct.Struct("<d")
MAX_KEY_LEN = 1024


_GOOD_KEYS: set[str] = set()  # field names already found valid: the same few recur
_GOOD_KEYS_MAX = 4096


def _key_ok(key: str) -> bool:
    if key in _GOOD_KEYS:
        return True
    ok = 0 < len(key) <= MAX_KEY_LEN and key[0] != "$" and key.isascii() and key.isprintable()
    if ok and len(_GOOD_KEYS) < _GOOD_KEYS_MAX:
        _GOOD_KEYS.add(key)
    return ok


def _bad_key(key: object, path: str) -> InvalidValueError:
    if not isinstance(key, str):
        return InvalidValueError(f"{path or 'value'}: object keys must be strings, got {key!r}")
    if key.startswith("$"):
        why = "must not start with '$'"
    elif len(key) > MAX_KEY_LEN:
        why = f"is longer than {MAX_KEY_LEN} characters"
    elif not key:
        why = "must not be empty"
    else:
        why = "must be printable ASCII"
    return InvalidValueError(f"{path or 'value'}: field name {key!r} {why}")


def _float_json(x: float) -> Any:
    if math.isfinite(x) and not (x == 0.0 and math.copysign(1.0, x) < 0):
        return x
    return {"$float": base64.b64encode(_F64.pack(x)).decode("ascii")}


def plain_fields(fields: dict[str, Any]) -> bool:
    """Whether every value of ``fields`` is its own Convex JSON: a string, null, a
    boolean or a finite float but -0.0 (``convex_to_json``'s dict branch passes the same
    values through as they are). A document of such fields encodes as ``orjson``'s dump
    of it, without ``convex_to_json``'s walk and copy (an insert,
    ``database/transaction_writes.py``)."""
    for v in fields.values():
        t = type(v)
        if (t is not str and v is not None and t is not bool
                and not (t is float and v - v == 0.0 and (v or _copysign(1.0, v) > 0))):
            return False
    return True


def convex_to_json(value: Any, path: str = "") -> Any:
    """A Convex value as JSON-able Python (only finite floats, str keys)."""
    t = type(value)
    if t is str or value is None or t is bool:
        return value
    if t is float:
        return _float_json(value)
    if t is int:
        if not INT64_MIN <= value <= INT64_MAX:
            raise InvalidValueError(
                f"{path or 'value'}: integer {value} does not fit in int64 (use a float)"
            )
        return {"$integer": base64.b64encode(_I64.pack(value)).decode("ascii")}
    if t is dict:
        out: dict[str, Any] = {}
        for k, v in value.items():
            if type(k) is not str or (k not in _GOOD_KEYS and not _key_ok(k)):
                raise _bad_key(k, path)
            tv = type(v)
            # Strings, null, booleans and finite floats (not -0.0) are their own JSON, and
            # a str subclass (an Id) is its str: no call, no path string. (``v - v`` is
            # 0.0 for a finite float alone.)
            if (tv is str or v is None or tv is bool
                    or (tv is float and v - v == 0.0 and (v or _copysign(1.0, v) > 0))):
                out[k] = v
            elif isinstance(v, str):
                out[k] = str(v)
            else:
                out[k] = convex_to_json(v, f"{path}.{k}" if path else k)
        return out
    if t is list:
        return [
            v if type(v) is str or v is None else convex_to_json(v, f"{path}[{i}]")
            for i, v in enumerate(value)
        ]
    if t is bytes:
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    # Subclasses (Id is a str; IntEnum and bool subclasses are rejected by type checks).
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, float):
        return _float_json(float(value))
    if isinstance(value, int):
        return convex_to_json(int(value), path)
    if isinstance(value, dict):
        return convex_to_json(dict(value), path)
    if isinstance(value, (bytearray, memoryview)):
        return convex_to_json(bytes(value), path)
    raise InvalidValueError(
        f"{path or 'value'}: {type(value).__name__} is not a Convex value (use None, bool, "
        "int, float, str, bytes, list or dict)"
    )


def _b64(data: Any, what: str, path: str) -> bytes:
    if not isinstance(data, str):
        raise InvalidValueError(f"{path or 'value'}: {what} must hold a base64 string")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidValueError(f"{path or 'value'}: {what} holds invalid base64 {data!r}") from None


def json_to_convex(obj: Any, path: str = "") -> Value:
    """Decode Convex JSON into a Python value (validating field names)."""
    t = type(obj)
    if t is str or obj is None or t is bool or t is float:
        return obj  # type: ignore[no-any-return]
    if t is int:
        return float(obj)
    if t is list:
        return [json_to_convex(v, f"{path}[{i}]") for i, v in enumerate(obj)]
    if t is dict:
        if len(obj) == 1:
            ((key, inner),) = obj.items()
            if key.startswith("$"):
                if key == "$integer":
                    raw = _b64(inner, "$integer", path)
                    if len(raw) != 8:
                        raise InvalidValueError(f"{path or 'value'}: $integer must be 8 bytes")
                    return int(_I64.unpack(raw)[0])
                if key == "$float":
                    raw = _b64(inner, "$float", path)
                    if len(raw) != 8:
                        raise InvalidValueError(f"{path or 'value'}: $float must be 8 bytes")
                    x = float(_F64.unpack(raw)[0])
                    if math.isfinite(x) and not (x == 0.0 and math.copysign(1.0, x) < 0):
                        raise InvalidValueError(
                            f"{path or 'value'}: $float is only for NaN, ±Infinity and -0, got {x}"
                        )
                    return x
                if key == "$bytes":
                    return _b64(inner, "$bytes", path)
                raise InvalidValueError(f"{path or 'value'}: unsupported special value {key!r}")
        out: dict[str, Value] = {}
        for k, v in obj.items():
            if k not in _GOOD_KEYS and not _key_ok(k):
                raise _bad_key(k, path)
            tv = type(v)
            out[k] = v if tv is str or v is None or tv is bool or tv is float else (
                json_to_convex(v, f"{path}.{k}" if path else k)
            )
        return out
    raise InvalidValueError(f"{path or 'value'}: {obj!r} is not Convex JSON")


def dumps(value: Any) -> bytes:
    return orjson.dumps(convex_to_json(value))


def loads(data: bytes | str) -> Value:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise InvalidValueError(f"invalid JSON: {e}") from None
    return json_to_convex(obj)


def convex_to_clean_json(value: Any) -> Any:
    """The lossy "clean" export (HTTP ``format: json``, snapshot export): int64 as a
    decimal string, bytes as base64, non-finite floats as strings."""
    t = type(value)
    if t is str or value is None or t is bool:
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, list):
        return [convex_to_clean_json(v) for v in value]
    if isinstance(value, dict):
        return {k: convex_to_clean_json(v) for k, v in value.items()}
    raise InvalidValueError(f"{type(value).__name__} is not a Convex value")
