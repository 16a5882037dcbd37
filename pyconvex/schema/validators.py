"""The ``v`` validators, compiled once into closures.

A validator is an immutable description (``to_json`` gives Convex's validator JSON, so
schemas can be stored and diffed); ``compile()`` turns it into a :data:`Check`,
``check(value, path, ids) -> value``, built from closures so validating a value never
walks validator objects again. Checks normalise as Convex does: ``v.number()`` accepts
an ``int`` and returns a ``float``; ``v.id(t)`` returns an :class:`Id` of ``t``.

Failures raise :class:`ValidationFailure` whose message names the path:
``args.channelId: expected Id("channels"), got 42``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from pyconvex.errors import InvalidIdError
from pyconvex.values import INT64_MAX, INT64_MIN, Id, convex_to_json, decode_id


class IdResolver(Protocol):
    def table_number(self, name: str) -> int | None: ...


Check = Callable[[Any, str, "IdResolver | None"], Any]


class ValidationFailure(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def short_repr(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return '"' + text.replace('"', '\\"') + '"'
    if isinstance(value, bytes):
        return f"bytes({len(value)})"
    if isinstance(value, list):
        return f"array({len(value)})"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _fail(path: str, desc: str, value: Any) -> ValidationFailure:
    return ValidationFailure(path, f"{path or 'value'}: expected {desc}, got {short_repr(value)}")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class Validator:
    """Base of every validator. Subclasses define ``describe``, ``to_json``, ``_compile``."""

    __slots__ = ("_check",)
    kind = "any"

    def describe(self) -> str:
        return self.kind

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind}

    def compile(self) -> Check:
        try:
            return self._check  # type: ignore[no-any-return]
        except AttributeError:
            check = self._compile()
            object.__setattr__(self, "_check", check)
            return check

    def _compile(self) -> Check:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Validator) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(repr(self.to_json()))

    def __repr__(self) -> str:
        return f"v.{self.kind}()"


class _Simple(Validator):
    __slots__ = ()
    json_type = "any"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.json_type}


class StringValidator(_Simple):
    __slots__ = ()
    kind = json_type = "string"

    def _compile(self) -> Check:
        def check(value: Any, path: str, ids: IdResolver | None) -> Any:
            if isinstance(value, str):
                return value
            raise _fail(path, "string", value)

        return check


class NumberValidator(_Simple):
    __slots__ = ("_name",)
    kind = "number"
    json_type = "number"

    def __init__(self, name: str = "number") -> None:
        self._name = name

    def describe(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"v.{self._name}()"

    def _compile(self) -> Check:
        name = self._name

        def check(value: Any, path: str, ids: IdResolver | None) -> Any:
            t = type(value)
            if t is float:
                return value
            if t is int:
                return float(value)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
            raise _fail(path, name, value)

        return check


class Int64Validator(_Simple):
    __slots__ = ()
    kind = "int64"
    json_type = "bigint"

    def _compile(self) -> Check:
        def check(value: Any, path: str, ids: IdResolver | None) -> Any:
            if type(value) is int and INT64_MIN <= value <= INT64_MAX:
                return value
            raise _fail(path, "int64", value)

        return check


class BooleanValidator(_Simple):
    __slots__ = ()
    kind = json_type = "boolean"

    def _compile(self) -> Check:
        def check(value: Any, path: str, ids: IdResolver | None) -> Any:
            if isinstance(value, bool):
                return value
            raise _fail(path, "boolean", value)

        return check


class NullValidator(_Simple):
    __slots__ = ()
    kind = json_type = "null"

    def _compile(self) -> Check:
        def check(value: Any, path: str, ids: IdResolver | None) -> Any:
            if value is None:
                return None
            raise _fail(path, "null", value)

        return check


class BytesValidator(_Simple):
    __slots__ = ()
    kind = json_type = "bytes"

    def _compile(self) -> Check:
        def check(value: Any, path: str, ids: IdResolver | None) -> Any:
            if isinstance(value, bytes):
                return value
            raise _fail(path, "bytes", value)

        return check


class AnyValidator(_Simple):
    __slots__ = ()
    kind = json_type = "any"

    def _compile(self) -> Check:
        def check(value: Any, path: str, ids: IdResolver | None) -> Any:
            try:
                convex_to_json(value)
            except Exception as e:
                raise ValidationFailure(path, f"{path or 'value'}: {e}") from None
            return value

        return check


class IdValidator(Validator):
    __slots__ = ("table",)
    kind = "id"

    def __init__(self, table: str) -> None:
        if not isinstance(table, str) or not table:
            raise TypeError(f"v.id() needs a table name, got {table!r}")
        self.table = table

    def describe(self) -> str:
        return f'Id("{self.table}")'

    def to_json(self) -> dict[str, Any]:
        return {"type": "id", "tableName": self.table}

    def __repr__(self) -> str:
        return f'v.id("{self.table}")'

    def _compile(self) -> Check:
        table = self.table
        desc = self.describe()

        def check(value: Any, path: str, ids: IdResolver | None) -> Any:
            if not isinstance(value, str):
                raise _fail(path, desc, value)
            try:
                number, _ = decode_id(value)
            except InvalidIdError:
                raise _fail(path, desc, value) from None
            if ids is not None and ids.table_number(table) != number:
                raise _fail(path, desc, value)
            return Id(value, table)

        return check


class LiteralValidator(Validator):
    __slots__ = ("value",)
    kind = "literal"

    def __init__(self, value: Any) -> None:
        if not isinstance(value, (str, int, float, bool)):
            raise TypeError(f"v.literal() takes a string, number or boolean, got {value!r}")
        self.value = value

    def describe(self) -> str:
        return short_repr(self.value)

    def to_json(self) -> dict[str, Any]:
        return {"type": "literal", "value": convex_to_json(self.value)}

    def __repr__(self) -> str:
        return f"v.literal({self.value!r})"

    def _compile(self) -> Check:
        expected = self.value
        kind = _literal_kind(expected)
        desc = self.describe()

        def check(value: Any, path: str, ids: IdResolver | None) -> Any:
            if _literal_kind(value) == kind and value == expected:
                return expected
            raise _fail(path, desc, value)

        return check


def _literal_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


class OptionalValidator(Validator):
    """``v.optional(x)``: only meaningful as an object field (the field may be absent)."""

    __slots__ = ("inner",)
    kind = "optional"

    def __init__(self, inner: Validator) -> None:
        _require_validator(inner, "v.optional")
        if isinstance(inner, OptionalValidator):
            raise TypeError("v.optional(v.optional(...)) is not allowed")
        self.inner = inner

    def describe(self) -> str:
        return self.inner.describe()

    def to_json(self) -> dict[str, Any]:
        return self.inner.to_json()

    def __repr__(self) -> str:
        return f"v.optional({self.inner!r})"

    def _compile(self) -> Check:
        return self.inner.compile()


def _require_validator(x: Any, where: str) -> Validator:
    if not isinstance(x, Validator):
        raise TypeError(f"{where}: expected a validator (v.string(), ...), got {x!r}")
    return x


def _no_optional(x: Any, where: str) -> Validator:
    _require_validator(x, where)
    if isinstance(x, OptionalValidator):
        raise TypeError(f"{where}: v.optional() is only allowed for object fields")
    return x


class ArrayValidator(Validator):
    __slots__ = ("element",)
    kind = "array"

    def __init__(self, element: Validator) -> None:
        self.element = _no_optional(element, "v.array")

    def describe(self) -> str:
        return f"array<{self.element.describe()}>"

    def to_json(self) -> dict[str, Any]:
        return {"type": "array", "value": self.element.to_json()}

    def __repr__(self) -> str:
        return f"v.array({self.element!r})"

    def _compile(self) -> Check:
        inner = self.element.compile()
        desc = self.describe()

        def check(value: Any, path: str, ids: IdResolver | None) -> Any:
            if not isinstance(value, list):
                raise _fail(path, desc, value)
            return [inner(item, f"{path}[{i}]", ids) for i, item in enumerate(value)]

        return check


class ObjectValidator(Validator):
    __slots__ = ("fields",)
    kind = "object"

    def __init__(self, fields: dict[str, Validator]) -> None:
        if not isinstance(fields, dict):
            raise TypeError(f"v.object() takes a dict of validators, got {fields!r}")
        for name, validator in fields.items():
            if not isinstance(name, str) or not name or name.startswith("$"):
                raise TypeError(f"v.object(): invalid field name {name!r}")
            _require_validator(validator, f"v.object() field {name!r}")
        self.fields = dict(fields)

    def describe(self) -> str:
        return "object"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "object",
            "value": {
                name: {
                    "fieldType": validator.to_json(),
                    "optional": isinstance(validator, OptionalValidator),
                }
                for name, validator in self.fields.items()
            },
        }

    def __repr__(self) -> str:
        inner = ", ".join(f"{k!r}: {v!r}" for k, v in self.fields.items())
        return f"v.object({{{inner}}})"

    def extend(self, extra: dict[str, Validator]) -> ObjectValidator:
        return ObjectValidator({**self.fields, **extra})

    def _compile(self) -> Check:
        specs = [
            (name, validator.compile(), isinstance(validator, OptionalValidator))
            for name, validator in self.fields.items()
        ]
        known = frozenset(self.fields)

        def check(value: Any, path: str, ids: IdResolver | None) -> Any:
            if not isinstance(value, dict):
                raise _fail(path, "object", value)
            out: dict[str, Any] = {}
            for name, field_check, optional in specs:
                if name in value:
                    out[name] = field_check(value[name], _join(path, name), ids)
                elif not optional:
                    where = _join(path, name)
                    raise ValidationFailure(where, f"{where}: missing required field")
            if len(out) != len(value):
                for name in value:
                    if name not in known:
                        where = _join(path, str(name))
                        raise ValidationFailure(where, f"{where}: unexpected field")
            return out

        return check


class RecordValidator(Validator):
    __slots__ = ("keys", "values")
    kind = "record"

    def __init__(self, keys: Validator, values: Validator) -> None:
        if not isinstance(keys, (StringValidator, IdValidator)):
            raise TypeError("v.record() keys must be v.string() or v.id(...)")
        self.keys = keys
        self.values = _no_optional(values, "v.record values")

    def describe(self) -> str:
        return f"record<{self.keys.describe()}, {self.values.describe()}>"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "record",
            "keys": self.keys.to_json(),
            "values": {"fieldType": self.values.to_json(), "optional": False},
        }

    def __repr__(self) -> str:
        return f"v.record({self.keys!r}, {self.values!r})"

    def _compile(self) -> Check:
        key_check = self.keys.compile()
        value_check = self.values.compile()
        desc = self.describe()

        def check(value: Any, path: str, ids: IdResolver | None) -> Any:
            if not isinstance(value, dict):
                raise _fail(path, desc, value)
            out = {}
            for k, item in value.items():
                where = _join(path, str(k))
                key_check(k, where, ids)
                out[k] = value_check(item, where, ids)
            return out

        return check


class UnionValidator(Validator):
    __slots__ = ("members",)
    kind = "union"

    def __init__(self, *members: Validator) -> None:
        if not members:
            raise TypeError("v.union() needs at least one member")
        self.members = tuple(_no_optional(m, "v.union") for m in members)

    def describe(self) -> str:
        return " | ".join(m.describe() for m in self.members)

    def to_json(self) -> dict[str, Any]:
        return {"type": "union", "value": [m.to_json() for m in self.members]}

    def __repr__(self) -> str:
        return "v.union(" + ", ".join(repr(m) for m in self.members) + ")"

    def _compile(self) -> Check:
        desc = self.describe()
        if all(isinstance(m, LiteralValidator) for m in self.members):
            allowed = {(_literal_kind(m.value), m.value): m.value for m in self.members}  # type: ignore[attr-defined]

            def literal_check(value: Any, path: str, ids: IdResolver | None) -> Any:
                try:
                    return allowed[(_literal_kind(value), value)]
                except (KeyError, TypeError):
                    raise _fail(path, desc, value) from None

            return literal_check
        checks = [m.compile() for m in self.members]

        def check(value: Any, path: str, ids: IdResolver | None) -> Any:
            for member in checks:
                try:
                    return member(value, path, ids)
                except ValidationFailure:
                    continue
            raise _fail(path, desc, value)

        return check


class _V:
    """The ``v`` namespace."""

    @staticmethod
    def string() -> StringValidator:
        return StringValidator()

    @staticmethod
    def number() -> NumberValidator:
        return NumberValidator("number")

    @staticmethod
    def float64() -> NumberValidator:
        return NumberValidator("float64")

    @staticmethod
    def int64() -> Int64Validator:
        return Int64Validator()

    @staticmethod
    def boolean() -> BooleanValidator:
        return BooleanValidator()

    @staticmethod
    def null() -> NullValidator:
        return NullValidator()

    @staticmethod
    def bytes() -> BytesValidator:
        return BytesValidator()

    @staticmethod
    def any() -> AnyValidator:
        return AnyValidator()

    @staticmethod
    def id(table: str) -> IdValidator:
        return IdValidator(table)

    @staticmethod
    def literal(value: Any) -> LiteralValidator:
        return LiteralValidator(value)

    @staticmethod
    def array(element: Validator) -> ArrayValidator:
        return ArrayValidator(element)

    @staticmethod
    def object(fields: dict[str, Validator]) -> ObjectValidator:
        return ObjectValidator(fields)

    @staticmethod
    def record(keys: Validator, values: Validator) -> RecordValidator:
        return RecordValidator(keys, values)

    @staticmethod
    def union(*members: Validator) -> UnionValidator:
        return UnionValidator(*members)

    @staticmethod
    def optional(inner: Validator) -> OptionalValidator:
        return OptionalValidator(inner)


v = _V()


def validator_from_json(obj: dict[str, Any]) -> Validator:
    """Rebuild a validator from ``to_json`` output (stored schemas)."""
    from pyconvex.values import json_to_convex

    kind = obj.get("type")
    simple: dict[str, Callable[[], Validator]] = {
        "string": v.string,
        "number": v.number,
        "bigint": v.int64,
        "boolean": v.boolean,
        "null": v.null,
        "bytes": v.bytes,
        "any": v.any,
    }
    if kind in simple:
        return simple[kind]()  # type: ignore[index]
    if kind == "id":
        return v.id(obj["tableName"])
    if kind == "literal":
        return v.literal(json_to_convex(obj["value"]))
    if kind == "array":
        return v.array(validator_from_json(obj["value"]))
    if kind == "union":
        return v.union(*(validator_from_json(m) for m in obj["value"]))
    if kind == "record":
        return v.record(validator_from_json(obj["keys"]), validator_from_json(obj["values"]["fieldType"]))
    if kind == "object":
        fields: dict[str, Validator] = {}
        for name, spec in obj["value"].items():
            inner = validator_from_json(spec["fieldType"])
            fields[name] = v.optional(inner) if spec.get("optional") else inner
        return v.object(fields)
    raise ValueError(f"unknown validator JSON {obj!r}")


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
