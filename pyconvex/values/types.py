"""The Convex value model in Python, and the type aliases the layers above share.

Convex type -> Python: null -> None, int64 -> int, float64 -> float, boolean -> bool,
string -> str, bytes -> bytes, array -> list, object -> dict with str keys. ``bool`` is
checked before ``int`` everywhere, since ``True`` is an ``int`` in Python.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, TypeAlias

Value: TypeAlias = (
    bool | int | float | str | bytes | list["Value"] | dict[str, "Value"] | None
)
"""Any Convex value."""

Document: TypeAlias = dict[str, Value]
"""A stored document: a plain dict including ``_id`` and ``_creationTime``."""

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1


class Missing:
    """A field that is absent (Convex's ``undefined``): sorts before every value in keys."""

    _instance: Missing | None = None

    def __new__(cls) -> Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = Missing()


class IdTable:
    """Annotation marker produced by ``Id["table"]``: an id of that table."""

    __slots__ = ("table",)

    def __init__(self, table: str) -> None:
        self.table = table

    def __repr__(self) -> str:
        return f"IdTable({self.table!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdTable) and other.table == self.table

    def __hash__(self) -> int:
        return hash(("IdTable", self.table))


class Id(str):
    """A document id: a ``str`` that remembers its table when known.

    ``Id["messages"]`` in an annotation means "an id of the messages table", and the
    function decorators infer ``v.id("messages")`` from it.
    """

    __slots__ = ("table",)
    table: str | None

    def __new__(cls, value: str, table: str | None = None) -> Id:
        self = super().__new__(cls, value)
        self.table = table
        return self

    def __class_getitem__(cls, table: str) -> Any:
        return Annotated[Id, IdTable(table)]

    def __reduce__(self) -> Any:
        return (Id, (str(self), self.table))
