"""The compiled form of validators: one closure per validator node, built once.

Contract. A *node* is ``node(value, ids) -> normalised value`` and raises
:class:`~pyconvex.schema.failures.Invalid` when the value does not match. Nodes are
built once per validator (``Validator.node()``/``compile()`` cache them), so checking
a value never walks validator objects, never asks ``isinstance(validator, ...)`` and
never builds path strings:

* the happy path allocates only the normalised result (fresh dicts and lists). The
  path is collected while an ``Invalid`` unwinds (each container appends its field
  name or index) and the message is formatted once, by ``Validator.compile()``;
* an object field, array element or record value whose validator passes a Python
  type through unchanged (``str`` for ``v.string()``, ``float`` for ``v.number()``)
  is tested inline with ``type(x) is T``, without a call; an array of such values is
  checked with one C-level ``issuperset(map(type, value))``;
* a union dispatches on ``type(value)`` to the members that can accept it, in order;
  a union of literals is one dict lookup;
* decoded ids go through a small bounded cache (``decode_id`` is pure Python and
  costs more than the rest of a typical document check; the same ids recur).

Why: the database validates every written document and the runtime every argument
and return value. On chat-app documents these closures are ~5-20x faster than a
recursive walk over the validator objects (``tests/schema/walk.py`` is that walk, the
reference model in the property tests; ``tests/schema/bench_compiled_vs_walk.py``
measures both).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from pyconvex.errors import InvalidIdError
from pyconvex.schema.failures import EXPECTED, MISSING_FIELD, UNEXPECTED_FIELD, Invalid
from pyconvex.values.ids import decode_id
from pyconvex.values.types import INT64_MAX, INT64_MIN, Id

if TYPE_CHECKING:
    from pyconvex.schema.base import IdResolver

Node = Callable[[Any, "IdResolver | None"], Any]

_ABSENT: Final = object()
_NONE_TYPE: Final = type(None)
MAX_FIELD_NAME: Final = 1024


def field_name_ok(name: Any) -> bool:
    """A Convex field name: non-empty printable ASCII, no leading ``$``, <= 1024 chars."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= MAX_FIELD_NAME
        and name[0] != "$"
        and name.isascii()
        and name.isprintable()
    )


# ----------------------------------------------------------------------------- leaves


def string_node() -> Node:
    def check(value: Any, ids: IdResolver | None) -> Any:
        if isinstance(value, str):
            return value
        raise Invalid(EXPECTED, "string", value)

    return check


def number_node(desc: str) -> Node:
    def check(value: Any, ids: IdResolver | None) -> Any:
        t = type(value)
        if t is float:
            return value
        if (t is int or isinstance(value, (int, float))) and t is not bool:
            try:
                return float(value)
            except OverflowError:
                pass
        raise Invalid(EXPECTED, desc, value)

    return check


def int64_node() -> Node:
    def check(value: Any, ids: IdResolver | None) -> Any:
        if type(value) is int and INT64_MIN <= value <= INT64_MAX:
            return value
        if isinstance(value, int) and type(value) is not bool and INT64_MIN <= value <= INT64_MAX:
            return int(value)
        raise Invalid(EXPECTED, "int64", value)

    return check


def boolean_node() -> Node:
    def check(value: Any, ids: IdResolver | None) -> Any:
        if value is True or value is False:
            return value
        raise Invalid(EXPECTED, "boolean", value)

    return check


def null_node() -> Node:
    def check(value: Any, ids: IdResolver | None) -> Any:
        if value is None:
            return None
        raise Invalid(EXPECTED, "null", value)

    return check


def bytes_node() -> Node:
    def check(value: Any, ids: IdResolver | None) -> Any:
        if type(value) is bytes:
            return value
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        raise Invalid(EXPECTED, "bytes", value)

    return check


def _any(value: Any) -> None:
    """Raise :class:`Invalid` (with its path) unless ``value`` is a Convex value."""
    t = type(value)
    if t is str or t is float or t is bool or value is None or t is bytes:
        return
    if t is list:
        for i, item in enumerate(value):
            try:
                _any(item)
            except Invalid as e:
                e.parts.append(i)
                raise
        return
    if t is dict:
        for key, item in value.items():
            if not field_name_ok(key):
                raise Invalid(EXPECTED, "a valid field name", key)
            try:
                _any(item)
            except Invalid as e:
                e.parts.append(key)
                raise
        return
    if isinstance(value, int) and t is not bool:
        if INT64_MIN <= value <= INT64_MAX:
            return
    elif isinstance(value, (str, float, bytes)):
        return
    raise Invalid(EXPECTED, "any Convex value", value)


def any_node() -> Node:
    def check(value: Any, ids: IdResolver | None) -> Any:
        _any(value)
        return value

    return check


_ID_CACHE: dict[str, int] = {}
_ID_CACHE_SIZE: Final = 4096


def id_node(table: str, desc: str) -> Node:
    cache = _ID_CACHE

    def check(value: Any, ids: IdResolver | None) -> Any:
        if not isinstance(value, str):
            raise Invalid(EXPECTED, desc, value)
        number = cache.get(value)
        if number is None:
            try:
                number = decode_id(value)[0]
            except InvalidIdError:
                raise Invalid(EXPECTED, desc, value) from None
            if len(cache) >= _ID_CACHE_SIZE:
                cache.clear()
            cache[str(value)] = number
        if ids is not None and ids.table_number(table) != number:
            raise Invalid(EXPECTED, desc, value)
        if type(value) is Id and value.table == table:
            return value
        return Id(value, table)

    return check


def literal_node(expected: Any, desc: str) -> Node:
    t = type(expected)

    def check(value: Any, ids: IdResolver | None) -> Any:
        tv = type(value)
        if (tv is t or (t is float and tv is int) or (t is str and isinstance(value, str))) and (
            value == expected
        ):
            return expected
        raise Invalid(EXPECTED, desc, value)

    return check


def literal_union_node(literals: list[Any], desc: str) -> Node:
    """A union of literals: one dict lookup keyed by the value's exact type.

    Members are entered in order with ``setdefault``, so when two literals match (an
    int and an equal float) the first one wins, as trying them in order would.
    """
    lookup: dict[type, dict[Any, Any]] = {}
    for lit in literals:
        t = type(lit)
        lookup.setdefault(t, {}).setdefault(lit, lit)
        if t is str:
            lookup.setdefault(Id, {}).setdefault(lit, lit)
        elif t is float:
            lookup.setdefault(int, {}).setdefault(lit, lit)

    def check(value: Any, ids: IdResolver | None) -> Any:
        table = lookup.get(type(value))
        if table is None and isinstance(value, str):
            table = lookup.get(str)  # other str subclasses (StrEnum)
        if table is not None:
            found = table.get(value, _ABSENT)
            if found is not _ABSENT:
                return found
        raise Invalid(EXPECTED, desc, value)

    return check


# ------------------------------------------------------------------------- containers


def array_node(element: Node, fast: type | None, desc: str) -> Node:
    fast_types = frozenset((fast,)) if fast is not None else frozenset()

    def check(value: Any, ids: IdResolver | None) -> Any:
        if type(value) is not list:
            raise Invalid(EXPECTED, desc, value)
        if fast_types and fast_types.issuperset(map(type, value)):
            return list(value)
        try:
            return [element(item, ids) for item in value]
        except Invalid:
            pass
        for i, item in enumerate(value):  # the failure path only: find the index
            try:
                element(item, ids)
            except Invalid as e:
                e.parts.append(i)
                raise
        raise AssertionError("unreachable: a check failed once and passed again")

    return check


FieldSpec = tuple[str, "type | None", Node, bool]
"""(name, pass-through type or None, node, required)."""


def object_node(specs: list[FieldSpec]) -> Node:
    known = frozenset(spec[0] for spec in specs)
    fields = tuple(specs)

    def check(value: Any, ids: IdResolver | None) -> Any:
        if type(value) is not dict and not isinstance(value, dict):
            raise Invalid(EXPECTED, "object", value)
        out: dict[str, Any] = {}
        name = ""
        try:
            for name, fast, node, required in fields:
                x = value.get(name, _ABSENT)
                if x is _ABSENT:
                    if required:
                        raise Invalid(MISSING_FIELD)
                elif type(x) is fast:
                    out[name] = x
                else:
                    out[name] = node(x, ids)
        except Invalid as e:
            e.parts.append(name)
            raise
        if len(out) != len(value):
            for key in value:
                if key not in known:
                    unexpected = Invalid(UNEXPECTED_FIELD)
                    unexpected.parts.append(str(key))
                    raise unexpected
        return out

    return check


def record_node(key: Node, key_desc: str, values: Node, fast: type | None) -> Node:
    def check(value: Any, ids: IdResolver | None) -> Any:
        if type(value) is not dict and not isinstance(value, dict):
            raise Invalid(EXPECTED, "record", value)
        out: dict[str, Any] = {}
        for k, x in value.items():
            try:
                normal_key = key(k, ids)
            except Invalid:
                raise Invalid(EXPECTED, key_desc, k) from None
            if type(x) is fast:
                out[normal_key] = x
                continue
            try:
                out[normal_key] = values(x, ids)
            except Invalid as e:
                e.parts.append(str(k))
                raise
        return out

    return check


def record_key_node() -> Node:
    def check(value: Any, ids: IdResolver | None) -> Any:
        if field_name_ok(value):
            return value
        raise Invalid(EXPECTED, "record key", value)

    return check


KNOWN_TYPES: Final = (str, Id, float, int, bool, _NONE_TYPE, bytes, list, dict)


def union_node(members: list[tuple[Node, frozenset[type] | None]], desc: str) -> Node:
    """Members are tried in order, but only those that can accept ``type(value)``.

    When exactly one member could accept the value, its own (deeper) failure is
    reported: ``v.union(v.object(...), v.null())`` names the bad field of the object.
    """
    every = tuple(node for node, _ in members)
    by_type: dict[type, tuple[Node, ...]] = {
        t: tuple(node for node, accepts in members if accepts is None or t in accepts)
        for t in KNOWN_TYPES
    }

    def check(value: Any, ids: IdResolver | None) -> Any:
        candidates = by_type.get(type(value), every)
        if len(candidates) == 1:
            try:
                return candidates[0](value, ids)
            except Invalid as e:
                if e.parts or e.kind != EXPECTED:
                    raise  # a deep failure inside the only plausible member says more
                raise Invalid(EXPECTED, desc, value) from None
        for node in candidates:
            try:
                return node(value, ids)
            except Invalid:
                continue
        raise Invalid(EXPECTED, desc, value)

    return check
