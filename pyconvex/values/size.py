"""Size accounting and Convex's document limits.

``value_size`` follows Convex's rule of thumb: a type byte per value plus the payload
(8 bytes for numbers, the UTF-8 length + 1 for strings, the length for bytes, the sum
of fields and their names for objects). Limits: a document is at most 1 MiB, nests at
most 16 levels, has at most 1,024 fields per object and 8,192 elements per array.
"""

from __future__ import annotations

from typing import Any

from pyconvex.errors import LimitExceededError

MAX_DOCUMENT_SIZE = 1 << 20
MAX_NESTING = 16
MAX_FIELDS = 1024
MAX_ARRAY = 8192


def value_size(value: Any) -> int:
    t = type(value)
    if value is None or t is bool:
        return 1
    if t is int or t is float:
        return 9
    if t is str:
        return len(value.encode("utf-8")) + 2
    if t is bytes:
        return len(value) + 2
    if t is list:
        return 2 + sum(value_size(v) for v in value)
    if t is dict:
        return 2 + sum(len(k) + 1 + value_size(v) for k, v in value.items())
    if isinstance(value, str):
        return len(value.encode("utf-8")) + 2
    return 9


def _walk(value: Any, path: str, depth: int, table: str, of: str | None = None) -> int:
    # Scalars are sized in place: most fields are scalars, and a call (and the field's
    # path, which only an error message needs) per field is most of the cost.
    t = type(value)
    if t is not dict and t is not list:
        return value_size(value)
    if depth > MAX_NESTING:
        raise LimitExceededError(
            f"{f'A value in {of}' if of else f'Document in {table!r}'} is nested too deeply "
            f"at {path or 'the top'}: "
            f"more than {MAX_NESTING} levels.",
            short_msg="NestingTooDeep",
        )
    size = 2
    if t is dict:
        if len(value) > MAX_FIELDS:
            raise LimitExceededError(
                f"Object at {path or 'the top'} of {of or f'a document in {table!r}'} has "
                f"{len(value)} fields (limit: {MAX_FIELDS}).",
                short_msg="TooManyFields",
            )
        return size + _fields_size(value, path, depth, table, of)
    if len(value) > MAX_ARRAY:
        raise LimitExceededError(
            f"Array at {path or 'the top'} of {of or f'a document in {table!r}'} has {len(value)} "
            f"elements (limit: {MAX_ARRAY}).",
            short_msg="ArrayTooLong",
        )
    for i, v in enumerate(value):
        tv = type(v)
        if tv is str:
            size += len(v.encode("utf-8")) + 2
        elif tv is dict or tv is list:
            size += _walk(v, f"{path}[{i}]", depth + 1, table, of)
        else:
            size += value_size(v)
    return size


def _fields_size(value: dict[str, Any], path: str, depth: int, table: str, of: str | None) -> int:
    """The fields' share of an object's size (names and values): strings and numbers,
    most fields, sized inline (``value_size``'s figures)."""
    size = 0
    for k, v in value.items():
        tv = type(v)
        if tv is str:
            size += len(k) + 3 + len(v.encode("utf-8"))
        elif tv is float or tv is int:
            size += len(k) + 10
        elif tv is dict or tv is list:
            size += len(k) + 1 + _walk(v, f"{path}.{k}" if path else k, depth + 1, table, of)
        else:
            size += len(k) + 1 + value_size(v)
    return size


def check_document_limits(doc: dict[str, Any], *, table: str) -> int:
    """Raise if ``doc`` breaks a limit; return its size."""
    size = _walk(doc, "", 1, table)
    if size > MAX_DOCUMENT_SIZE:
        raise LimitExceededError(
            f"Document in '{table}' is too large: {size} bytes (limit: {MAX_DOCUMENT_SIZE}).",
            short_msg="DocumentTooLarge",
        )
    return size


def check_new_document_limits(
    fields: dict[str, Any], system_fields: int, system_size: int, *, table: str
) -> int:
    """:func:`check_document_limits` of a new document made of ``fields`` and
    ``system_fields`` scalar system fields (an insert's ``_id`` and ``_creationTime``)
    whose names and values take ``system_size`` bytes: the same checks, messages and
    size, without building the document first."""
    count = len(fields) + system_fields
    if count > MAX_FIELDS:
        raise LimitExceededError(
            f"Object at the top of a document in {table!r} has {count} fields "
            f"(limit: {MAX_FIELDS}).",
            short_msg="TooManyFields",
        )
    size = 2 + system_size + _fields_size(fields, "", 1, table, None)
    if size > MAX_DOCUMENT_SIZE:
        raise LimitExceededError(
            f"Document in '{table}' is too large: {size} bytes (limit: {MAX_DOCUMENT_SIZE}).",
            short_msg="DocumentTooLarge",
        )
    return size


MAX_FUNCTION_VALUE_SIZE = 16 * 1024 * 1024
"""Function arguments and return values: Convex's 16 MiB."""


def check_value_limits(value: Any, *, of: str, max_size: int = MAX_FUNCTION_VALUE_SIZE) -> int:
    """The document limits (nesting, fields per object, elements per array) for a value
    that is not a document, such as a function's arguments (``of`` names it in errors:
    "the arguments of messages:send"); its size at most ``max_size``. Returns the size."""
    size = _walk(value, "", 1, "", of)
    if size > max_size:
        raise LimitExceededError(
            f"{of[0].upper()}{of[1:]} are too large: {size} bytes (limit: {max_size}).",
            short_msg="ValueTooLarge",
        )
    return size
