"""The ``v`` namespace: container validators, and rebuilding validators from JSON.

Contract.

* ``v.string() v.number() v.float64() v.int64() v.boolean() v.null() v.bytes() v.any()
  v.id(table) v.literal(x) v.array(v) v.object({...}) v.record(keys, values)
  v.union(*vs) v.optional(v)`` build frozen validators (:mod:`pyconvex.schema.base`).
  Misuse fails at definition time: ``v.optional`` anywhere but as an object field
  (``TypeError``), record keys other than ``v.string()``/``v.id(...)``, invalid field
  names (``ValueError``), an empty union.
* ``v.object`` rejects a value with a missing required field or an unknown field and
  checks each field; ``v.array`` checks each element (path ``tags[2]``); ``v.record``
  checks keys (valid field names, or ids of the key table) and values (path
  ``scores.<key>``); ``v.union`` tries its members in order (only those that can
  accept the value's Python type; a union of literals is one dict lookup).
* ``to_json()`` is Convex's validator JSON; :func:`validator_from_json` rebuilds an
  equal validator from it, so schemas can be stored in ``_schemas`` and diffed.
* Failures raise :class:`ValidationFailure` (defined in :mod:`pyconvex.schema.base`,
  re-exported here): ``args.channelId: expected Id("channels"), got 42``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pyconvex.errors import InvalidValueError
from pyconvex.schema import checks
from pyconvex.schema.base import (
    Check,
    IdResolver,
    ValidationFailure,
    Validator,
    no_optional,
    require_validator,
)
from pyconvex.schema.checks import Node
from pyconvex.schema.failures import quote
from pyconvex.schema.scalars import (
    AnyValidator,
    BooleanValidator,
    BytesValidator,
    IdValidator,
    Int64Validator,
    LiteralValidator,
    NullValidator,
    NumberValidator,
    StringValidator,
)
from pyconvex.values.json import json_to_convex
from pyconvex.values.paths import validate_field_name

__all__ = [
    "AnyValidator",
    "ArrayValidator",
    "BooleanValidator",
    "BytesValidator",
    "Check",
    "IdResolver",
    "IdValidator",
    "Int64Validator",
    "LiteralValidator",
    "NullValidator",
    "NumberValidator",
    "ObjectValidator",
    "OptionalValidator",
    "RecordValidator",
    "StringValidator",
    "UnionValidator",
    "ValidationFailure",
    "Validator",
    "pagination_opts_validator",
    "v",
    "validator_from_json",
]


class OptionalValidator(Validator):
    """``v.optional(x)``: an object field that may be absent. Only valid as a field."""

    __slots__ = ("inner",)
    kind = "optional"
    inner: Validator

    def __init__(self, inner: Validator) -> None:
        require_validator(inner, "v.optional()")
        if isinstance(inner, OptionalValidator):
            raise TypeError("v.optional(v.optional(...)) is not allowed")
        self._set("inner", inner)

    @property
    def is_optional(self) -> bool:
        return True

    def describe(self) -> str:
        return self.inner.describe()

    def to_json(self) -> dict[str, Any]:
        return self.inner.to_json()

    def __repr__(self) -> str:
        return f"v.optional({self.inner!r})"

    def _build(self) -> Node:
        raise TypeError(f"{self!r} can only be used as an object field, not on its own")


class ArrayValidator(Validator):
    __slots__ = ("element",)
    kind = "array"
    accepted = frozenset({list})
    element: Validator

    def __init__(self, element: Validator) -> None:
        self._set("element", no_optional(element, "v.array()"))

    def describe(self) -> str:
        return f"array<{self.element.describe()}>"

    def to_json(self) -> dict[str, Any]:
        return {"type": "array", "value": self.element.to_json()}

    def __repr__(self) -> str:
        return f"v.array({self.element!r})"

    def _build(self) -> Node:
        return checks.array_node(self.element.node(), self.element.fast_type, self.describe())


class ObjectValidator(Validator):
    __slots__ = ("fields",)
    kind = "object"
    accepted = frozenset({dict})
    fields: Mapping[str, Validator]

    def __init__(self, fields: Mapping[str, Validator]) -> None:
        if not isinstance(fields, Mapping):
            raise TypeError(f"v.object() takes a dict of validators, got {fields!r}")
        for name, validator in fields.items():
            try:
                validate_field_name(name, top_level=False)
            except InvalidValueError as e:
                raise ValueError(f"v.object(): {e.message}") from None
            require_validator(validator, f"v.object() field {name!r}")
        self._set("fields", MappingProxyType(dict(fields)))

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "object",
            "value": {
                name: {"fieldType": field.to_json(), "optional": field.is_optional}
                for name, field in self.fields.items()
            },
        }

    def __repr__(self) -> str:
        inner = ", ".join(f"{quote(k)}: {f!r}" for k, f in self.fields.items())
        return f"v.object({{{inner}}})"

    def extend(self, extra: Mapping[str, Validator]) -> ObjectValidator:
        """A new object validator with ``extra`` fields added (or replaced)."""
        return ObjectValidator({**self.fields, **extra})

    def _build(self) -> Node:
        specs: list[checks.FieldSpec] = []
        for name, field in self.fields.items():
            inner = field.inner if isinstance(field, OptionalValidator) else field
            specs.append((name, inner.fast_type, inner.node(), not field.is_optional))
        return checks.object_node(specs)


class RecordValidator(Validator):
    __slots__ = ("keys", "values")
    kind = "record"
    accepted = frozenset({dict})
    keys: StringValidator | IdValidator
    values: Validator

    def __init__(self, keys: Validator, values: Validator) -> None:
        if not isinstance(keys, (StringValidator, IdValidator)):
            raise TypeError(f"v.record() keys must be v.string() or v.id(...), got {keys!r}")
        self._set("keys", keys)
        self._set("values", no_optional(values, "v.record() values"))

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "record",
            "keys": self.keys.to_json(),
            "values": {"fieldType": self.values.to_json(), "optional": False},
        }

    def __repr__(self) -> str:
        return f"v.record({self.keys!r}, {self.values!r})"

    def _build(self) -> Node:
        if isinstance(self.keys, IdValidator):
            key, key_desc = self.keys.node(), f"record key {self.keys.describe()}"
        else:
            key, key_desc = checks.record_key_node(), "record key"
        return checks.record_node(key, key_desc, self.values.node(), self.values.fast_type)


class UnionValidator(Validator):
    __slots__ = ("members",)
    kind = "union"
    members: tuple[Validator, ...]

    def __init__(self, *members: Validator) -> None:
        if not members:
            raise TypeError("v.union() needs at least one member")
        self._set("members", tuple(no_optional(m, "v.union()") for m in members))

    def describe(self) -> str:
        return " | ".join(m.describe() for m in self.members)

    def accepts(self) -> frozenset[type] | None:
        out: set[type] = set()
        for member in self.members:
            accepts = member.accepts()
            if accepts is None:
                return None
            out |= accepts
        return frozenset(out)

    def to_json(self) -> dict[str, Any]:
        return {"type": "union", "value": [m.to_json() for m in self.members]}

    def __repr__(self) -> str:
        return "v.union(" + ", ".join(repr(m) for m in self.members) + ")"

    def _build(self) -> Node:
        if all(isinstance(m, LiteralValidator) for m in self.members):
            literals = [m.value for m in self.members]  # type: ignore[attr-defined]
            return checks.literal_union_node(literals, self.describe())
        return checks.union_node([(m.node(), m.accepts()) for m in self.members], self.describe())


class _V:
    """The ``v`` namespace (``from pyconvex import v``)."""

    __slots__ = ()

    def string(self) -> StringValidator:
        return StringValidator()

    def number(self) -> NumberValidator:
        return NumberValidator("number")

    def float64(self) -> NumberValidator:
        return NumberValidator("float64")

    def int64(self) -> Int64Validator:
        return Int64Validator()

    def boolean(self) -> BooleanValidator:
        return BooleanValidator()

    def null(self) -> NullValidator:
        return NullValidator()

    def bytes(self) -> BytesValidator:
        return BytesValidator()

    def any(self) -> AnyValidator:
        return AnyValidator()

    def id(self, table: str) -> IdValidator:
        return IdValidator(table)

    def literal(self, value: str | int | float | bool) -> LiteralValidator:
        return LiteralValidator(value)

    def array(self, element: Validator) -> ArrayValidator:
        return ArrayValidator(element)

    def object(self, fields: Mapping[str, Validator]) -> ObjectValidator:
        return ObjectValidator(fields)

    def record(self, keys: Validator, values: Validator) -> RecordValidator:
        return RecordValidator(keys, values)

    def union(self, *members: Validator) -> UnionValidator:
        return UnionValidator(*members)

    def optional(self, inner: Validator) -> OptionalValidator:
        return OptionalValidator(inner)

    def __repr__(self) -> str:
        return "v"

    if not TYPE_CHECKING:  # a type checker keeps reporting unknown names itself

        def __getattr__(self, name: str) -> Any:
            """``v.strng()``: name the typo and the validators that exist."""
            known = sorted(n for n in dir(_V) if not n.startswith("_"))
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"Did you mean v.{close[0]}()? " if close else ""
            raise AttributeError(
                f"v.{name} is not a validator. {hint}The validators are: "
                + ", ".join(f"v.{n}()" for n in known)
            )


v = _V()

_SIMPLE: dict[str, Callable[[], Validator]] = {
    "string": v.string,
    "number": v.number,
    "float64": v.float64,
    "bigint": v.int64,
    "int64": v.int64,
    "boolean": v.boolean,
    "null": v.null,
    "bytes": v.bytes,
    "any": v.any,
}


def validator_from_json(obj: Any) -> Validator:
    """Rebuild a validator from Convex validator JSON (what ``to_json()`` produced)."""
    if not isinstance(obj, dict):
        raise ValueError(f"validator JSON must be an object, got {obj!r}")
    kind = obj.get("type")
    try:
        if kind in _SIMPLE:
            return _SIMPLE[kind]()
        if kind == "id":
            return v.id(obj["tableName"])
        if kind == "literal":
            value = json_to_convex(obj["value"])
            if not isinstance(value, (str, int, float)):
                raise ValueError(f"literal value {value!r} is not a str, number or bool")
            return v.literal(value)
        if kind == "array":
            return v.array(validator_from_json(obj["value"]))
        if kind == "union":
            return v.union(*(validator_from_json(m) for m in obj["value"]))
        if kind == "record":
            return v.record(validator_from_json(obj["keys"]), _field_from_json(obj["values"]))
        if kind == "object":
            return v.object({name: _field_from_json(spec) for name, spec in obj["value"].items()})
    except (KeyError, AttributeError, TypeError, InvalidValueError) as e:
        raise ValueError(f"malformed validator JSON {obj!r}: {e}") from None
    raise ValueError(f"unknown validator type {kind!r} in {obj!r}")


def _field_from_json(spec: Any) -> Validator:
    inner = validator_from_json(spec["fieldType"])
    return v.optional(inner) if spec.get("optional") else inner


pagination_opts_validator = v.object(
    {
        "numItems": v.number(),
        "cursor": v.union(v.string(), v.null()),
        "endCursor": v.optional(v.union(v.string(), v.null())),
        "id": v.optional(v.number()),
        "maximumRowsRead": v.optional(v.number()),
        "maximumBytesRead": v.optional(v.number()),
    }
)
"""The ``paginationOpts`` argument of paginated queries, as Convex defines it."""
