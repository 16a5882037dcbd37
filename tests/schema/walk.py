"""A naive recursive walk over validator objects: the reference model for compiled checks.

It is written for clarity, the way one would first write a validator: dispatch on the
validator's class for every value, build each child's path string as it goes. The
property tests require the compiled checks to agree with it exactly (result and
message), and the benchmark in ``test_compiled_vs_walk.py`` compares their speed.
"""

from __future__ import annotations

from typing import Any

from pyconvex.errors import InvalidIdError
from pyconvex.schema import ValidationFailure, Validator
from pyconvex.schema.checks import field_name_ok
from pyconvex.schema.failures import short_repr
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
from pyconvex.schema.validators import ArrayValidator, ObjectValidator, RecordValidator, UnionValidator
from pyconvex.values import INT64_MAX, INT64_MIN, Id, decode_id


def _fail(path: str, desc: str, value: Any) -> ValidationFailure:
    hint = ""
    if desc == "int64" and type(value) is float and value.is_integer() and path.startswith("args"):
        # What a float64-only client (JavaScript) sends for an int64: the message names
        # the fix on either side (failures.py, issue of 2026-12-04).
        hint = (f" (a float64, as JavaScript numbers are: pass {int(value)}n (BigInt) from "
                "JavaScript, or declare the argument float / v.float64())")
    return ValidationFailure(
        path, f"{path or 'value'}: expected {desc}, got {short_repr(value)}{hint}")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_value(value: Any, path: str) -> None:
    if value is None or isinstance(value, (bool, str, float, bytes)):
        return
    if isinstance(value, int):
        if INT64_MIN <= value <= INT64_MAX:
            return
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _is_value(item, f"{path}[{i}]")
        return
    elif isinstance(value, dict):
        for key, item in value.items():
            if not field_name_ok(key):
                raise _fail(path, "a valid field name", key)
            _is_value(item, _join(path, key))
        return
    raise _fail(path, "any Convex value", value)


def walk(validator: Validator, value: Any, path: str, ids: Any) -> Any:
    if isinstance(validator, StringValidator):
        if isinstance(value, str):
            return value
    elif isinstance(validator, NumberValidator):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:
                pass
    elif isinstance(validator, Int64Validator):
        if isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX:
            return value
    elif isinstance(validator, BooleanValidator):
        if isinstance(value, bool):
            return value
    elif isinstance(validator, NullValidator):
        if value is None:
            return None
    elif isinstance(validator, BytesValidator):
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
    elif isinstance(validator, AnyValidator):
        _is_value(value, path)
        return value
    elif isinstance(validator, IdValidator):
        if isinstance(value, str):
            try:
                number, _ = decode_id(value)
            except InvalidIdError:
                number = None
            if number is not None and (ids is None or ids.table_number(validator.table) == number):
                return Id(value, validator.table)
    elif isinstance(validator, LiteralValidator):
        lit = validator.value
        if isinstance(lit, bool):
            if value is lit:
                return lit
        elif isinstance(lit, float):
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value == lit:
                return lit
        elif isinstance(lit, int):
            if type(value) is int and value == lit:
                return lit
        elif isinstance(value, str) and value == lit:
            return lit
    elif isinstance(validator, ArrayValidator):
        if isinstance(value, list):
            return [walk(validator.element, item, f"{path}[{i}]", ids) for i, item in enumerate(value)]
    elif isinstance(validator, ObjectValidator):
        if isinstance(value, dict):
            out = {}
            for name, field in validator.fields.items():
                where = _join(path, name)
                if name in value:
                    inner = field.inner if field.is_optional else field  # type: ignore[attr-defined]
                    out[name] = walk(inner, value[name], where, ids)
                elif not field.is_optional:
                    raise ValidationFailure(where, f"{where}: missing required field")
            for name in value:
                if name not in validator.fields:
                    where = _join(path, str(name))
                    raise ValidationFailure(where, f"{where}: unexpected field")
            return out
    elif isinstance(validator, RecordValidator):
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if isinstance(validator.keys, IdValidator):
                    try:
                        key = walk(validator.keys, key, path, ids)
                    except ValidationFailure:
                        raise _fail(path, f"record key {validator.keys.describe()}", key) from None
                elif not field_name_ok(key):
                    raise _fail(path, "record key", key)
                out[key] = walk(validator.values, item, _join(path, str(key)), ids)
            return out
    elif isinstance(validator, UnionValidator):
        plausible = [m for m in validator.members if _plausible(m, value)]
        if len(plausible) == 1 and not all(isinstance(m, LiteralValidator) for m in validator.members):
            try:
                return walk(plausible[0], value, path, ids)
            except ValidationFailure as e:
                if e.path != path or e.message.endswith(("missing required field", "unexpected field")):
                    raise
        else:
            for member in plausible:
                try:
                    return walk(member, value, path, ids)
                except ValidationFailure:
                    continue
    else:
        raise TypeError(f"walk: unknown validator {validator!r}")
    raise _fail(path, validator.describe(), value)


def _plausible(member: Validator, value: Any) -> bool:
    accepts = member.accepts()
    known = (str, Id, float, int, bool, type(None), bytes, list, dict)
    return accepts is None or type(value) in accepts or type(value) not in known
