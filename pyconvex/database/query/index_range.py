"""Index range expressions: ``q.eq(...)`` on a prefix of the index fields, then at most one
lower and one upper bound on the next field, turned into a byte interval ``[lo, hi)``.

Encoding rules (keys are order-preserving and prefix-free, values/keys.py):
``eq`` values form a prefix P; ``gte x`` gives lo = P+enc(x); ``gt x`` gives
lo = P+enc(x)+0xFF (past every key that starts with it); ``lt x`` gives hi = P+enc(x);
``lte x`` gives hi = P+enc(x)+0xFF; with no upper bound, hi = P+0xFF.
"""

from __future__ import annotations

from typing import Any

from pyconvex.database.catalog import IndexInfo
from pyconvex.errors import InvalidQueryError
from pyconvex.schema import SchemaDefinition
from pyconvex.schema.validators import NumberValidator, UnionValidator
from pyconvex.values import Value, encode_key, encode_value, prefix_end


def _numeric_fields(schema: SchemaDefinition | None, index: IndexInfo) -> frozenset[str]:
    """Index fields declared as numbers (float64): a Python ``int`` bound means a float.

    Index keys order int64 and float64 as different types, so ``q.eq("n", 5)`` would
    never match a stored ``5.0``; with a schema we know which one the user meant.
    """
    if schema is None:
        return frozenset({"_creationTime"})
    out = {"_creationTime"}
    for field in index.fields:
        validator = schema.field_validator(index.table, field)
        if isinstance(validator, NumberValidator) or (
            isinstance(validator, UnionValidator)
            and any(isinstance(m, NumberValidator) for m in validator.members)
        ):
            out.add(field)
    return frozenset(out)


class IndexRangeBuilder:
    """The ``q`` handed to ``with_index(name, lambda q: ...)``. Methods chain."""

    def __init__(self, index: IndexInfo, numeric: frozenset[str] = frozenset()) -> None:
        self._index = index
        self._numeric = numeric
        self._eq: list[Value] = []
        self._lower: tuple[str, Value] | None = None
        self._upper: tuple[str, Value] | None = None
        self._range_field: str | None = None

    def _fail(self, message: str) -> InvalidQueryError:
        idx = self._index
        return InvalidQueryError(
            f"Invalid range for index {idx.table}.{idx.name} (fields: "
            f"{', '.join(idx.fields)}): {message}",
            short_msg="InvalidIndexRange",
        )

    def _next_field(self) -> str | None:
        fields = self._index.fields
        return fields[len(self._eq)] if len(self._eq) < len(fields) else None

    def eq(self, field: str, value: Value) -> IndexRangeBuilder:
        if self._lower is not None or self._upper is not None:
            raise self._fail(f"eq({field!r}) must come before gt/gte/lt/lte.")
        expected = self._next_field()
        if expected is None:
            raise self._fail(f"eq({field!r}) is past the last field of the index.")
        if field != expected:
            raise self._fail(f"expected a bound on {expected!r} next, got eq({field!r}).")
        self._eq.append(self._coerce(field, value))
        return self

    def _bound(self, kind: str, field: str, value: Value) -> IndexRangeBuilder:
        expected = self._range_field or self._next_field()
        if expected is None:
            raise self._fail(f"{kind}({field!r}) is past the last field of the index.")
        if field != expected:
            raise self._fail(f"expected a bound on {expected!r} next, got {kind}({field!r}).")
        self._range_field = field
        value = self._coerce(field, value)
        if kind in ("gt", "gte"):
            if self._lower is not None:
                raise self._fail("at most one lower bound (gt/gte) is allowed.")
            self._lower = (kind, value)
        else:
            if self._upper is not None:
                raise self._fail("at most one upper bound (lt/lte) is allowed.")
            self._upper = (kind, value)
        return self

    def _coerce(self, field: str, value: Value) -> Value:
        if type(value) is int and field in self._numeric:
            return float(value)
        return value

    def gt(self, field: str, value: Value) -> IndexRangeBuilder:
        return self._bound("gt", field, value)

    def gte(self, field: str, value: Value) -> IndexRangeBuilder:
        return self._bound("gte", field, value)

    def lt(self, field: str, value: Value) -> IndexRangeBuilder:
        return self._bound("lt", field, value)

    def lte(self, field: str, value: Value) -> IndexRangeBuilder:
        return self._bound("lte", field, value)

    def interval(self) -> tuple[bytes, bytes]:
        prefix = encode_key(self._eq)
        lo = prefix
        hi = prefix_end(prefix)
        if self._lower is not None:
            kind, value = self._lower
            enc = prefix + encode_value(value)
            lo = enc if kind == "gte" else prefix_end(enc)
        if self._upper is not None:
            kind, value = self._upper
            enc = prefix + encode_value(value)
            hi = enc if kind == "lt" else prefix_end(enc)
        return lo, hi


def build_range(
    index: IndexInfo, range_fn: Any, schema: SchemaDefinition | None = None
) -> tuple[bytes, bytes]:
    builder = IndexRangeBuilder(index, _numeric_fields(schema, index))
    if range_fn is not None:
        result = range_fn(builder)
        if result is not builder and not isinstance(result, IndexRangeBuilder):
            raise InvalidQueryError(
                f"with_index({index.name!r}, ...): the range function must return the "
                "builder it was given (e.g. lambda q: q.eq('field', value)).",
                short_msg="InvalidIndexRange",
            )
    return builder.interval()
