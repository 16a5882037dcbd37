"""Convex's "export JSON" value format, the one snapshot ZIPs hold.

Lossless and readable: an int64 is a JSON integer (``123``), a float64 a JSON number
with a fraction or exponent (``123.0``, ``-0.0``, ``1e300``), so the two stay apart
on the way back; what plain JSON cannot say keeps Convex's ``$`` encoding
(``{"$bytes": ...}``, ``{"$float": ...}`` for NaN and infinities). An object whose
first key starts with ``$`` is read as that encoding.
"""

from __future__ import annotations

import math
from typing import Any

from pyconvex.values import Value, convex_to_json, json_to_convex

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def to_export_json(value: Value) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else convex_to_json(value)
    if isinstance(value, bytes):
        return convex_to_json(value)
    if isinstance(value, list):
        return [to_export_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_export_json(v) for k, v in value.items()}
    raise TypeError(f"{type(value).__name__} is not a Convex value")


def from_export_json(data: Any) -> Value:
    if data is None or isinstance(data, (bool, str, float)):
        return data
    if isinstance(data, int):
        # Beyond int64 a JSON integer can only have been a float64.
        return data if INT64_MIN <= data <= INT64_MAX else float(data)
    if isinstance(data, list):
        return [from_export_json(v) for v in data]
    if isinstance(data, dict):
        first = next(iter(data), None)
        if first is not None and first.startswith("$"):
            return json_to_convex(data)
        return {k: from_export_json(v) for k, v in data.items()}
    raise TypeError(f"{type(data).__name__} is not JSON")
