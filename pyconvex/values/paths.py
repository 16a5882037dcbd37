"""Field names and dotted field paths ("metadata.category")."""

from __future__ import annotations

from typing import Any, cast

from pyconvex.errors import InvalidValueError
from pyconvex.values.types import MISSING, Missing, Value

SYSTEM_FIELDS = frozenset({"_id", "_creationTime"})


def validate_field_name(name: str, *, top_level: bool, system: bool = False) -> None:
    if not isinstance(name, str) or not name:
        raise InvalidValueError(f"Invalid field name {name!r}: must be a non-empty string")
    if len(name) > 1024:
        raise InvalidValueError(f"Field name {name[:40]!r}... is longer than 1024 characters")
    if not (name.isascii() and name.isprintable()):
        raise InvalidValueError(f"Field name {name!r} must be printable ASCII")
    if name[0] == "$":
        raise InvalidValueError(f"Field name {name!r} must not start with '$'")
    if top_level and name[0] == "_" and not (system and name in SYSTEM_FIELDS):
        raise InvalidValueError(
            f"Field name {name!r} must not start with '_': top-level fields starting with "
            "an underscore are reserved for system fields"
        )


def validate_field_path(path: str) -> None:
    for i, part in enumerate(path.split(".")):
        validate_field_name(part, top_level=False)
        if i == 0 and part.startswith("_") and part not in SYSTEM_FIELDS:
            raise InvalidValueError(f"Field path {path!r} names a reserved field")


def get_path(doc: Any, path: str) -> Value | Missing:
    if "." not in path:
        return doc.get(path, MISSING)  # type: ignore[no-any-return]
    value: Any = doc
    for part in path.split("."):
        if type(value) is not dict:
            return MISSING
        value = value.get(part, MISSING)
        if value is MISSING:
            break
    return cast("Value | Missing", value)
