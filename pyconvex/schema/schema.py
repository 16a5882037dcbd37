"""``define_schema``: the tables of a deployment and how their documents are validated.

Contract.

* ``define_schema({"messages": define_table(...), ...}, schema_validation=True,
  strict_table_name_types=True)`` returns a frozen :class:`SchemaDefinition`. Table
  names are identifiers (a letter, then letters, digits, ``_``; at most 64 chars) and
  must not start with ``_`` (system tables); a bad name is a ``ValueError`` naming it.
* ``schema.document_check(table)`` is the compiled validator of a stored document:
  the table's validator plus the system fields ``_id`` (an id of that table) and
  ``_creationTime`` (a number), which are accepted but not required, so the same
  check serves a full stored document and one being built. It is compiled on first
  use and cached, since the database calls it on every write.
* ``to_json()`` is Convex's schema JSON (``{"tables": [{"tableName", "documentType",
  "indexes", ...}], "schemaValidation": ...}``); ``from_json`` rebuilds an equal
  schema from it, as the database does with the one stored in ``_schemas``.
* ``strict_table_name_types`` only matters to generated types (codegen); it is kept
  so it round-trips.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from pyconvex.schema.base import Check, Validator
from pyconvex.schema.tables import TableDefinition
from pyconvex.schema.validators import ObjectValidator, UnionValidator, v

_TABLE_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


def _with_system_fields(table: str, validator: Validator) -> Validator:
    system = {"_id": v.optional(v.id(table)), "_creationTime": v.optional(v.number())}
    if isinstance(validator, ObjectValidator):
        return validator.extend(system)
    if isinstance(validator, UnionValidator):
        return v.union(*(_with_system_fields(table, m) for m in validator.members))
    raise TypeError(f"table {table!r}: document validator must be an object, got {validator!r}")


class SchemaDefinition:
    """The schema of a deployment. Frozen; build it with :func:`define_schema`."""

    __slots__ = ("_checks", "schema_validation", "strict_table_name_types", "tables")
    tables: Mapping[str, TableDefinition]
    schema_validation: bool
    strict_table_name_types: bool

    def __init__(
        self,
        tables: Mapping[str, TableDefinition],
        schema_validation: bool = True,
        strict_table_name_types: bool = True,
    ) -> None:
        object.__setattr__(self, "tables", MappingProxyType(dict(tables)))
        object.__setattr__(self, "schema_validation", bool(schema_validation))
        object.__setattr__(self, "strict_table_name_types", bool(strict_table_name_types))
        object.__setattr__(self, "_checks", {})

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("SchemaDefinition is immutable")

    def document_validator(self, table: str) -> Validator:
        """``table``'s document validator with ``_id`` and ``_creationTime`` added."""
        return _with_system_fields(table, self._table(table).validator)

    def document_check(self, table: str) -> Check:
        """The compiled document validator of ``table`` (built once, then cached)."""
        checks: dict[str, Check] = self._checks  # type: ignore[attr-defined]
        check = checks.get(table)
        if check is None:
            check = self.document_validator(table).compile()
            checks[table] = check
        return check

    def field_validator(self, table: str, path: str) -> Validator | None:
        """The validator of a (dotted) field of ``table``'s documents, when one is known.

        ``v.optional`` is unwrapped; a path through a union, record or ``v.any()`` is
        not followed (None).
        """
        definition = self.tables.get(table)
        if definition is None:
            return None
        if path == "_creationTime":
            return v.number()
        if path == "_id":
            return v.id(table)
        validator: Validator | None = definition.validator
        for part in path.split("."):
            if not isinstance(validator, ObjectValidator):
                return None
            validator = validator.fields.get(part)
            if validator is not None and validator.is_optional:
                validator = validator.inner  # type: ignore[attr-defined]
        return validator

    def _table(self, table: str) -> TableDefinition:
        definition = self.tables.get(table)
        if definition is None:
            raise KeyError(f"table {table!r} is not in the schema")
        return definition

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SchemaDefinition):
            return NotImplemented
        return (
            dict(self.tables) == dict(other.tables)
            and self.schema_validation == other.schema_validation
            and self.strict_table_name_types == other.strict_table_name_types
        )

    def __hash__(self) -> int:
        return hash((frozenset(self.tables.items()), self.schema_validation))

    def __repr__(self) -> str:
        return (
            f"SchemaDefinition(tables={list(self.tables)}, "
            f"schema_validation={self.schema_validation})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "tables": [
                {"tableName": name, **definition.to_json()}
                for name, definition in self.tables.items()
            ],
            "schemaValidation": self.schema_validation,
            "strictTableNameTypes": self.strict_table_name_types,
        }

    @staticmethod
    def from_json(obj: Mapping[str, Any] | str | bytes) -> SchemaDefinition:
        """Rebuild (and re-check) a schema from :meth:`to_json` output, or that as a JSON text.

        Storing the JSON *text* is the safe way to keep a schema in a document: the
        validator JSON of an int64 or non-finite float literal holds ``{"$integer": ...}``
        / ``{"$float": ...}``, and ``$`` field names are not allowed in Convex documents.
        """
        if isinstance(obj, (str, bytes)):
            obj = json.loads(obj)
            if not isinstance(obj, Mapping):
                raise ValueError("schema JSON must be an object")
        tables = {t["tableName"]: TableDefinition.from_json(t) for t in obj["tables"]}
        return define_schema(
            tables,
            schema_validation=bool(obj.get("schemaValidation", True)),
            strict_table_name_types=bool(obj.get("strictTableNameTypes", True)),
        )


def define_schema(
    tables: Mapping[str, TableDefinition],
    *,
    schema_validation: bool = True,
    strict_table_name_types: bool = True,
) -> SchemaDefinition:
    """The schema of a deployment: table name -> :func:`define_table` (...).

    With ``schema_validation=False`` documents are not checked against the validators
    (indexes still apply).
    """
    if not isinstance(tables, Mapping):
        raise TypeError(f"define_schema() takes a dict of table name -> define_table(...), got {tables!r}")
    for name, definition in tables.items():
        if not isinstance(name, str) or not _TABLE_NAME.fullmatch(name):
            why = (
                "names starting with '_' are reserved for system tables"
                if isinstance(name, str) and name.startswith("_")
                else "use a letter, then letters, digits or underscores (at most 64 characters)"
            )
            raise ValueError(f"Invalid table name {name!r}: {why}")
        if not isinstance(definition, TableDefinition):
            raise TypeError(f"Table {name!r}: expected define_table(...), got {definition!r}")
    return SchemaDefinition(tables, schema_validation, strict_table_name_types)
