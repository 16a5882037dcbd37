"""``define_schema``: the tables of a deployment and how documents are validated."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyconvex.schema.tables import (
    IndexDefinition,
    SearchIndexDefinition,
    TableDefinition,
    VectorIndexDefinition,
)
from pyconvex.schema.validators import (
    Check,
    ObjectValidator,
    OptionalValidator,
    UnionValidator,
    Validator,
    v,
    validator_from_json,
)


def _with_system_fields(table: str, validator: Validator) -> Validator:
    extra = {"_id": v.id(table), "_creationTime": v.number()}
    if isinstance(validator, ObjectValidator):
        return validator.extend(extra)
    assert isinstance(validator, UnionValidator)
    return v.union(*(m.extend(extra) for m in validator.members))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class SchemaDefinition:
    tables: dict[str, TableDefinition]
    schema_validation: bool = True
    strict_table_name_types: bool = True
    _checks: dict[str, Check] = field(default_factory=dict, repr=False, compare=False)

    def document_check(self, table: str) -> Check:
        """The compiled validator of ``table``'s documents (system fields included)."""
        check = self._checks.get(table)
        if check is None:
            check = _with_system_fields(table, self.tables[table].validator).compile()
            self._checks[table] = check
        return check

    def field_validator(self, table: str, path: str) -> Validator | None:
        """The validator of a (dotted) field of ``table``'s documents, if it is known."""
        definition = self.tables.get(table)
        if definition is None:
            return None
        validator: Validator | None = definition.validator
        for part in path.split("."):
            if isinstance(validator, OptionalValidator):
                validator = validator.inner
            if not isinstance(validator, ObjectValidator):
                return None
            validator = validator.fields.get(part)
        if isinstance(validator, OptionalValidator):
            validator = validator.inner
        return validator

    def to_json(self) -> dict[str, Any]:
        return {
            "tables": [
                {"tableName": name, **definition.to_json()}
                for name, definition in self.tables.items()
            ],
            "schemaValidation": self.schema_validation,
        }

    @staticmethod
    def from_json(obj: Any) -> SchemaDefinition:
        tables: dict[str, TableDefinition] = {}
        for t in obj["tables"]:
            tables[t["tableName"]] = TableDefinition(
                validator_from_json(t["documentType"]),
                tuple(
                    IndexDefinition(i["indexDescriptor"], tuple(i["fields"]), bool(i.get("staged")))
                    for i in t["indexes"]
                ),
                tuple(
                    SearchIndexDefinition(i["indexDescriptor"], i["searchField"], tuple(i["filterFields"]))
                    for i in t.get("searchIndexes", [])
                ),
                tuple(
                    VectorIndexDefinition(
                        i["indexDescriptor"], i["vectorField"], int(i["dimensions"]), tuple(i["filterFields"])
                    )
                    for i in t.get("vectorIndexes", [])
                ),
            )
        return SchemaDefinition(tables, bool(obj.get("schemaValidation", True)))


def define_schema(
    tables: dict[str, TableDefinition],
    *,
    schema_validation: bool = True,
    strict_table_name_types: bool = True,
) -> SchemaDefinition:
    if not isinstance(tables, dict):
        raise TypeError("define_schema() takes a dict of table name -> define_table(...)")
    for name, definition in tables.items():
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise ValueError(
                f"Invalid table name {name!r}: use letters, digits and underscores, not "
                "starting with an underscore"
            )
        if not isinstance(definition, TableDefinition):
            raise TypeError(f"Table {name!r}: expected define_table(...), got {definition!r}")
    return SchemaDefinition(dict(tables), schema_validation, strict_table_name_types)
