"""The leaf validators: string, number/float64, int64, boolean, null, bytes, any, id, literal.

Contract (see :mod:`pyconvex.schema.base` for what all validators share):

* ``v.number()``/``v.float64()`` accept ``float`` and ``int`` (never ``bool``) and return
  a ``float``; ``v.int64()`` accepts an ``int`` in int64 range only (not ``bool``, not
  ``float``); ``v.boolean()`` only ``True``/``False``.
* ``v.id(t)`` accepts a string that decodes as a document id (of table ``t`` when an
  :class:`~pyconvex.schema.base.IdResolver` is given) and returns ``Id(value, t)``.
* ``v.literal(x)`` takes a str, int (int64), float (not NaN) or bool; a float literal
  also accepts an equal int, as ``v.number()`` does. It returns the literal itself.
* ``v.any()`` accepts any Convex value, nested ones included.

Each class only describes itself (``describe``/``to_json``/``repr``) and picks its
compiled node from :mod:`pyconvex.schema.checks`.
"""

from __future__ import annotations

import math
from typing import Any, Final

from pyconvex.schema import checks
from pyconvex.schema.base import Validator
from pyconvex.schema.checks import Node
from pyconvex.schema.failures import quote, short_repr
from pyconvex.values.json import convex_to_json
from pyconvex.values.types import INT64_MAX, INT64_MIN, Id

STR_TYPES: Final = frozenset({str, Id})
NUMBER_TYPES: Final = frozenset({float, int})


class StringValidator(Validator):
    __slots__ = ()
    kind = "string"
    accepted = STR_TYPES
    fast_type = str

    def _build(self) -> Node:
        return checks.string_node()


class NumberValidator(Validator):
    """``v.number()`` and its alias ``v.float64()``: same JSON, own name in messages."""

    __slots__ = ("name",)
    kind = "number"
    accepted = NUMBER_TYPES
    fast_type = float
    name: str

    def __init__(self, name: str = "number") -> None:
        self._set("name", name)

    def describe(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"v.{self.name}()"

    def _build(self) -> Node:
        return checks.number_node(self.name)


class Int64Validator(Validator):
    __slots__ = ()
    kind = "int64"
    accepted = frozenset({int})

    def to_json(self) -> dict[str, Any]:
        return {"type": "bigint"}

    def _build(self) -> Node:
        return checks.int64_node()


class BooleanValidator(Validator):
    __slots__ = ()
    kind = "boolean"
    accepted = frozenset({bool})
    fast_type = bool

    def _build(self) -> Node:
        return checks.boolean_node()


class NullValidator(Validator):
    __slots__ = ()
    kind = "null"
    accepted = frozenset({type(None)})
    fast_type = type(None)

    def _build(self) -> Node:
        return checks.null_node()


class BytesValidator(Validator):
    __slots__ = ()
    kind = "bytes"
    accepted = frozenset({bytes})
    fast_type = bytes

    def _build(self) -> Node:
        return checks.bytes_node()


class AnyValidator(Validator):
    __slots__ = ()
    kind = "any"

    def _build(self) -> Node:
        return checks.any_node()


class IdValidator(Validator):
    __slots__ = ("table",)
    kind = "id"
    accepted = STR_TYPES
    table: str

    def __init__(self, table: str) -> None:
        if not isinstance(table, str) or not table:
            raise TypeError(f"v.id() takes a table name, got {table!r}")
        self._set("table", table)

    def describe(self) -> str:
        return f"Id({quote(self.table)})"

    def to_json(self) -> dict[str, Any]:
        return {"type": "id", "tableName": self.table}

    def __repr__(self) -> str:
        return f"v.id({quote(self.table)})"

    def _build(self) -> Node:
        return checks.id_node(self.table, self.describe())


class LiteralValidator(Validator):
    __slots__ = ("value",)
    kind = "literal"
    value: str | int | float | bool

    def __init__(self, value: str | int | float | bool) -> None:
        if type(value) not in (str, int, float, bool):
            raise TypeError(f"v.literal() takes a str, int, float or bool, got {value!r}")
        if isinstance(value, float) and math.isnan(value):
            raise ValueError("v.literal() cannot be NaN (it equals nothing)")
        if type(value) is int and not INT64_MIN <= value <= INT64_MAX:
            raise ValueError(f"v.literal({value}) does not fit in int64")
        self._set("value", value)

    def describe(self) -> str:
        return short_repr(self.value)

    def accepts(self) -> frozenset[type]:
        t = type(self.value)
        return STR_TYPES if t is str else NUMBER_TYPES if t is float else frozenset({t})

    def to_json(self) -> dict[str, Any]:
        return {"type": "literal", "value": convex_to_json(self.value)}

    def __repr__(self) -> str:
        text = quote(self.value) if isinstance(self.value, str) else repr(self.value)
        return f"v.literal({text})"

    def _build(self) -> Node:
        return checks.literal_node(self.value, self.describe())
