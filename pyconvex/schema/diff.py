"""What changed between two schemas: the database backfills and re-validates from this."""

from __future__ import annotations

from dataclasses import dataclass

from pyconvex.schema.schema import SchemaDefinition


@dataclass(frozen=True)
class SchemaDiff:
    tables_added: tuple[str, ...]
    tables_removed: tuple[str, ...]
    indexes_added: tuple[tuple[str, str], ...]
    indexes_removed: tuple[tuple[str, str], ...]
    tables_with_changed_validator: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        return not (
            self.tables_added or self.tables_removed or self.indexes_added
            or self.indexes_removed or self.tables_with_changed_validator
        )


def _index_map(schema: SchemaDefinition | None, table: str) -> dict[str, object]:
    if schema is None or table not in schema.tables:
        return {}
    t = schema.tables[table]
    out: dict[str, object] = {i.name: ("db", i.fields, i.staged) for i in t.indexes}
    out.update({i.name: ("search", i.search_field, i.filter_fields) for i in t.search_indexes})
    out.update({i.name: ("vector", i.vector_field, i.dimensions, i.filter_fields) for i in t.vector_indexes})
    return out


def diff_schemas(old: SchemaDefinition | None, new: SchemaDefinition) -> SchemaDiff:
    old_tables = set(old.tables) if old is not None else set()
    new_tables = set(new.tables)
    added: list[tuple[str, str]] = []
    removed: list[tuple[str, str]] = []
    changed: list[str] = []
    for table in sorted(old_tables | new_tables):
        before = _index_map(old, table)
        after = _index_map(new, table)
        for name, spec in after.items():
            if before.get(name) != spec:
                added.append((table, name))
                if name in before:
                    removed.append((table, name))
        removed.extend((table, name) for name in before if name not in after)
        if table in new_tables and (
            old is None or table not in old.tables
            or old.tables[table].validator != new.tables[table].validator
            or old.schema_validation != new.schema_validation
        ):
            changed.append(table)
    return SchemaDiff(
        tuple(sorted(new_tables - old_tables)),
        tuple(sorted(old_tables - new_tables)),
        tuple(added),
        tuple(removed),
        tuple(changed),
    )
