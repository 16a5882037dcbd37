"""What changed between two schemas; the database backfills and re-validates from it.

Contract. ``diff_schemas(old, new)`` (``old`` None for a first push) returns a frozen
:class:`SchemaDiff`:

* ``tables_added`` / ``tables_removed``: table names, sorted;
* ``tables``: one :class:`TableDiff` per table with any change, sorted by name. An
  added table lists all its indexes as added; a removed one all as removed;
* per table and per kind (database, search, vector): indexes ``added``, ``removed``
  and ``changed``. A *change* is an index whose name stays but whose definition does
  not (other fields, filter fields, dimensions, staged flag, or kind); it sits in the
  list of its *new* kind, as an :class:`IndexChange` ``(old, new)``. The database
  drops ``old`` and builds ``new``, unless ``change.needs_backfill`` is false (only
  the staged flag moved: the entries already exist);
* ``validator_changed`` per table: its declared validator changed (an added table
  counts as changed);
* ``tables_with_changed_validator``, for the database: the tables whose *effective*
  validator changed, i.e. whose documents must be checked against ``new``. With
  schema validation off a table accepts anything, so this is every table of ``new``
  when validation is switched on, none when it is off, else the tables with
  ``validator_changed``; ``schema_validation_changed`` says the flag moved.

Index order within a table is not a change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from pyconvex.schema.schema import SchemaDefinition
from pyconvex.schema.tables import (
    AnyIndexDefinition,
    IndexDefinition,
    SearchIndexDefinition,
    TableDefinition,
    VectorIndexDefinition,
)

T = TypeVar("T", IndexDefinition, SearchIndexDefinition, VectorIndexDefinition)


@dataclass(frozen=True, slots=True)
class IndexChange:
    """An index that keeps its name but not its definition."""

    old: AnyIndexDefinition
    new: AnyIndexDefinition

    @property
    def name(self) -> str:
        return self.new.name

    @property
    def needs_backfill(self) -> bool:
        """False when only ``staged`` changed (the index entries are already there)."""
        return type(self.old) is not type(self.new) or replace(self.old, staged=False) != replace(
            self.new, staged=False
        )


@dataclass(frozen=True, slots=True)
class IndexesDiff(Generic[T]):
    """The indexes of one kind in one table: added, removed, changed."""

    added: tuple[T, ...] = ()
    removed: tuple[AnyIndexDefinition, ...] = ()
    changed: tuple[IndexChange, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass(frozen=True, slots=True)
class TableDiff:
    """How one table changed."""

    table: str
    indexes: IndexesDiff[IndexDefinition]
    search_indexes: IndexesDiff[SearchIndexDefinition]
    vector_indexes: IndexesDiff[VectorIndexDefinition]
    validator_changed: bool

    def __bool__(self) -> bool:
        return bool(self.validator_changed or self.indexes or self.search_indexes or self.vector_indexes)


@dataclass(frozen=True, slots=True)
class SchemaDiff:
    tables_added: tuple[str, ...]
    tables_removed: tuple[str, ...]
    tables: tuple[TableDiff, ...]
    tables_with_changed_validator: tuple[str, ...]
    """Tables whose documents must be validated against the new schema."""
    schema_validation_changed: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.tables or self.tables_with_changed_validator or self.schema_validation_changed)

    def table(self, name: str) -> TableDiff | None:
        """The diff of table ``name``, or None if it did not change."""
        return next((t for t in self.tables if t.table == name), None)


def _kind_diff(
    kind: type[T],
    before: dict[str, AnyIndexDefinition],
    after: dict[str, AnyIndexDefinition],
) -> IndexesDiff[T]:
    added: list[T] = []
    changed: list[IndexChange] = []
    for name, index in after.items():
        if not isinstance(index, kind):
            continue
        old = before.get(name)
        if old is None:
            added.append(index)
        elif old != index:
            changed.append(IndexChange(old, index))
    removed = [i for n, i in before.items() if isinstance(i, kind) and n not in after]
    return IndexesDiff(
        tuple(sorted(added, key=lambda i: i.name)),
        tuple(sorted(removed, key=lambda i: i.name)),
        tuple(sorted(changed, key=lambda c: c.name)),
    )


def _indexes(table: TableDefinition | None) -> dict[str, AnyIndexDefinition]:
    return {} if table is None else {i.name: i for i in table.all_indexes()}


def diff_table(name: str, old: TableDefinition | None, new: TableDefinition | None) -> TableDiff:
    """How table ``name`` went from ``old`` to ``new`` (None: absent on that side)."""
    before, after = _indexes(old), _indexes(new)
    return TableDiff(
        name,
        _kind_diff(IndexDefinition, before, after),
        _kind_diff(SearchIndexDefinition, before, after),
        _kind_diff(VectorIndexDefinition, before, after),
        validator_changed=new is not None
        and (old is None or old.validator != new.validator),
    )


def diff_schemas(old: SchemaDefinition | None, new: SchemaDefinition) -> SchemaDiff:
    """What changed from ``old`` (None: nothing pushed yet) to ``new``."""
    old_tables = dict(old.tables) if old is not None else {}
    new_tables = dict(new.tables)
    diffs = [
        d
        for name in sorted(old_tables.keys() | new_tables.keys())
        if (d := diff_table(name, old_tables.get(name), new_tables.get(name)))
    ]
    was_on = old is not None and old.schema_validation
    if not new.schema_validation:
        to_validate: list[str] = []
    elif not was_on:
        to_validate = sorted(new_tables)
    else:
        to_validate = [d.table for d in diffs if d.validator_changed]
    return SchemaDiff(
        tables_added=tuple(sorted(new_tables.keys() - old_tables.keys())),
        tables_removed=tuple(sorted(old_tables.keys() - new_tables.keys())),
        tables=tuple(diffs),
        tables_with_changed_validator=tuple(to_validate),
        schema_validation_changed=old is not None and old.schema_validation != new.schema_validation,
    )
