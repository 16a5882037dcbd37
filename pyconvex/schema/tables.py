"""Table definitions: a document validator plus indexes, search and vector indexes.

Definitions are immutable; each ``.index(...)`` returns a new definition, so chains read
like Convex's. Mistakes are caught here, at definition time, with the table's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from pyconvex.schema.validators import ObjectValidator, UnionValidator, Validator, v
from pyconvex.values import validate_field_path

RESERVED_INDEX_NAMES = frozenset({"by_id", "by_creation_time"})
MAX_INDEX_FIELDS = 16
MAX_FILTER_FIELDS = 16


@dataclass(frozen=True, slots=True)
class IndexDefinition:
    name: str
    fields: tuple[str, ...]
    staged: bool = False


@dataclass(frozen=True, slots=True)
class SearchIndexDefinition:
    name: str
    search_field: str
    filter_fields: tuple[str, ...] = ()
    staged: bool = False


@dataclass(frozen=True, slots=True)
class VectorIndexDefinition:
    name: str
    vector_field: str
    dimensions: int
    filter_fields: tuple[str, ...] = ()
    staged: bool = False


def _check_name(name: Any, names: set[str]) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"Invalid index name {name!r}: use letters, digits and underscores")
    if name in RESERVED_INDEX_NAMES or name.startswith("_"):
        raise ValueError(f"Index name {name!r} is reserved")
    if name in names:
        raise ValueError(f"Duplicate index name {name!r}")


def _check_fields(index: str, fields: Any) -> tuple[str, ...]:
    if isinstance(fields, str) or not fields:
        raise ValueError(f"Index {index!r}: fields must be a non-empty list of field paths")
    out = tuple(fields)
    if len(out) > MAX_INDEX_FIELDS:
        raise ValueError(f"Index {index!r}: at most {MAX_INDEX_FIELDS} fields")
    for f in out:
        if f in ("_id", "_creationTime"):
            raise ValueError(
                f"Index {index!r}: {f} is added to every index implicitly; remove it"
            )
        validate_field_path(f)
    if len(set(out)) != len(out):
        raise ValueError(f"Index {index!r}: duplicate fields")
    return out


@dataclass(frozen=True, slots=True)
class TableDefinition:
    validator: Validator
    indexes: tuple[IndexDefinition, ...] = ()
    search_indexes: tuple[SearchIndexDefinition, ...] = ()
    vector_indexes: tuple[VectorIndexDefinition, ...] = ()
    _names: frozenset[str] = field(default=frozenset(), repr=False)

    def _add(self, name: str) -> set[str]:
        names = set(self._names)
        _check_name(name, names)
        names.add(name)
        return names

    def index(self, name: str, fields: list[str]) -> TableDefinition:
        names = self._add(name)
        idx = IndexDefinition(name, _check_fields(name, fields))
        return replace(self, indexes=(*self.indexes, idx), _names=frozenset(names))

    def staged_index(self, name: str, fields: list[str]) -> TableDefinition:
        names = self._add(name)
        idx = IndexDefinition(name, _check_fields(name, fields), staged=True)
        return replace(self, indexes=(*self.indexes, idx), _names=frozenset(names))

    def search_index(
        self, name: str, *, search_field: str, filter_fields: list[str] | tuple[str, ...] = ()
    ) -> TableDefinition:
        names = self._add(name)
        validate_field_path(search_field)
        if len(filter_fields) > MAX_FILTER_FIELDS:
            raise ValueError(f"Search index {name!r}: at most {MAX_FILTER_FIELDS} filter fields")
        for f in filter_fields:
            validate_field_path(f)
        idx = SearchIndexDefinition(name, search_field, tuple(filter_fields))
        return replace(self, search_indexes=(*self.search_indexes, idx), _names=frozenset(names))

    def vector_index(
        self,
        name: str,
        *,
        vector_field: str,
        dimensions: int,
        filter_fields: list[str] | tuple[str, ...] = (),
    ) -> TableDefinition:
        names = self._add(name)
        validate_field_path(vector_field)
        if isinstance(dimensions, bool) or not isinstance(dimensions, int) or not 2 <= dimensions <= 4096:
            raise ValueError(f"Vector index {name!r}: dimensions must be an int in 2..4096")
        if len(filter_fields) > MAX_FILTER_FIELDS:
            raise ValueError(f"Vector index {name!r}: at most {MAX_FILTER_FIELDS} filter fields")
        for f in filter_fields:
            validate_field_path(f)
        idx = VectorIndexDefinition(name, vector_field, dimensions, tuple(filter_fields))
        return replace(self, vector_indexes=(*self.vector_indexes, idx), _names=frozenset(names))

    def to_json(self) -> dict[str, Any]:
        return {
            "documentType": self.validator.to_json(),
            "indexes": [
                {"indexDescriptor": i.name, "fields": list(i.fields), "staged": i.staged}
                for i in self.indexes
            ],
            "searchIndexes": [
                {
                    "indexDescriptor": i.name,
                    "searchField": i.search_field,
                    "filterFields": list(i.filter_fields),
                }
                for i in self.search_indexes
            ],
            "vectorIndexes": [
                {
                    "indexDescriptor": i.name,
                    "vectorField": i.vector_field,
                    "dimensions": i.dimensions,
                    "filterFields": list(i.filter_fields),
                }
                for i in self.vector_indexes
            ],
        }


def define_table(fields: dict[str, Validator] | Validator) -> TableDefinition:
    """A table whose documents match ``fields`` (a dict of validators or v.object/union)."""
    if isinstance(fields, dict):
        validator: Validator = v.object(fields)
    elif isinstance(fields, ObjectValidator) or (isinstance(fields, UnionValidator) and all(
        isinstance(m, ObjectValidator) for m in fields.members
    )):
        validator = fields
    else:
        raise TypeError("define_table() takes a dict of validators, v.object(...) or a union of objects")
    for name in validator.fields if isinstance(validator, ObjectValidator) else ():
        if name.startswith("_"):
            raise ValueError(f"define_table(): field {name!r} may not start with '_' (reserved)")
    return TableDefinition(validator)
