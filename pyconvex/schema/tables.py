"""Table definitions: a document validator plus database, search and vector indexes.

Contract. ``define_table({...})`` (or a ``v.object``, or a ``v.union`` of objects)
returns a frozen :class:`TableDefinition`; ``.index``, ``.staged_index``,
``.search_index`` and ``.vector_index`` each return a new definition, so chains read
like Convex's ``defineTable(...).index(...)``. Every mistake is caught here, when the
schema module is imported, with a ``ValueError``/``TypeError`` naming the index:

* index names: identifiers of at most 64 characters, unique within the table across
  all index kinds, not ``by_id``/``by_creation_time`` and not starting with ``_``
  (those are the implicit indexes every table has);
* index fields: a non-empty list of at most 16 distinct field paths (dotted paths
  such as ``"metadata.category"`` are fine), without ``_creationTime`` or ``_id``,
  which end every index implicitly;
* search and vector indexes: at most 16 filter fields; vector dimensions in 2..4096;
* top-level document fields must not start with ``_`` (system fields).

``to_json()``/``from_json()`` use the shape of Convex's schema JSON (``indexes`` and
``stagedDbIndexes`` with ``indexDescriptor``; ``searchIndexes``; ``vectorIndexes``).
Index order carries no meaning: equality compares the sets of indexes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias, cast

from pyconvex.errors import InvalidValueError
from pyconvex.schema.base import Validator
from pyconvex.schema.validators import ObjectValidator, UnionValidator, v, validator_from_json
from pyconvex.values.paths import validate_field_path

RESERVED_INDEX_NAMES: Final = frozenset({"by_id", "by_creation_time"})
SYSTEM_FIELDS: Final = frozenset({"_id", "_creationTime"})
MAX_INDEX_FIELDS: Final = 16
MAX_FILTER_FIELDS: Final = 16
MIN_DIMENSIONS: Final = 2
MAX_DIMENSIONS: Final = 4096
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


@dataclass(frozen=True, slots=True)
class IndexDefinition:
    """A database index over ``fields`` (then ``_creationTime``, implicitly)."""

    name: str
    fields: tuple[str, ...]
    staged: bool = False


@dataclass(frozen=True, slots=True)
class SearchIndexDefinition:
    """A full-text index over ``search_field``, filterable by equality on ``filter_fields``."""

    name: str
    search_field: str
    filter_fields: tuple[str, ...] = ()
    staged: bool = False


@dataclass(frozen=True, slots=True)
class VectorIndexDefinition:
    """A vector index over ``vector_field`` (``dimensions`` floats), with filter fields."""

    name: str
    vector_field: str
    dimensions: int
    filter_fields: tuple[str, ...] = ()
    staged: bool = False


AnyIndexDefinition: TypeAlias = IndexDefinition | SearchIndexDefinition | VectorIndexDefinition


def _path(where: str, field: Any) -> str:
    if not isinstance(field, str):
        raise TypeError(f"{where}: field paths are strings, got {field!r}")
    if field in SYSTEM_FIELDS:
        raise ValueError(
            f"{where}: {field} is a system field, added to every index implicitly; "
            "remove it from the fields"
        )
    try:
        validate_field_path(field)
    except InvalidValueError as e:
        raise ValueError(f"{where}: invalid field path {field!r}: {e.message}") from None
    return field


def _paths(where: str, fields: Any, what: str, *, limit: int, allow_empty: bool) -> tuple[str, ...]:
    if isinstance(fields, str) or not isinstance(fields, Iterable):
        raise TypeError(f"{where}: {what} must be a list of field paths, got {fields!r}")
    out = tuple(_path(where, f) for f in fields)
    if not out and not allow_empty:
        raise ValueError(f"{where}: {what} must not be empty")
    if len(out) > limit:
        raise ValueError(f"{where}: at most {limit} {what}, got {len(out)}")
    if len(set(out)) != len(out):
        raise ValueError(f"{where}: {what} repeat a field: {list(out)}")
    return out


class TableDefinition:
    """A table's document validator and its indexes. Frozen; build with :func:`define_table`."""

    __slots__ = ("indexes", "search_indexes", "validator", "vector_indexes")
    validator: ObjectValidator | UnionValidator
    indexes: tuple[IndexDefinition, ...]
    search_indexes: tuple[SearchIndexDefinition, ...]
    vector_indexes: tuple[VectorIndexDefinition, ...]

    def __init__(
        self,
        validator: ObjectValidator | UnionValidator,
        indexes: tuple[IndexDefinition, ...] = (),
        search_indexes: tuple[SearchIndexDefinition, ...] = (),
        vector_indexes: tuple[VectorIndexDefinition, ...] = (),
    ) -> None:
        object.__setattr__(self, "validator", validator)
        object.__setattr__(self, "indexes", indexes)
        object.__setattr__(self, "search_indexes", search_indexes)
        object.__setattr__(self, "vector_indexes", vector_indexes)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("TableDefinition is immutable; .index(...) returns a new one")

    def all_indexes(self) -> tuple[AnyIndexDefinition, ...]:
        """Every declared index, of every kind (not the implicit ``by_id``/``by_creation_time``)."""
        return (*self.indexes, *self.search_indexes, *self.vector_indexes)

    def _with(self, index: AnyIndexDefinition) -> TableDefinition:
        if any(i.name == index.name for i in self.all_indexes()):
            raise ValueError(f"Duplicate index name {index.name!r} in this table")
        indexes, search, vector = self.indexes, self.search_indexes, self.vector_indexes
        if isinstance(index, IndexDefinition):
            indexes = (*indexes, index)
        elif isinstance(index, SearchIndexDefinition):
            search = (*search, index)
        else:
            vector = (*vector, index)
        return TableDefinition(self.validator, indexes, search, vector)

    def index(self, name: str, fields: Iterable[str], *, staged: bool = False) -> TableDefinition:
        """Add a database index on ``fields``; queries use it with ``.with_index(name, ...)``."""
        where = f"Index {_index_name(name)!r}"
        paths = _paths(where, fields, "fields", limit=MAX_INDEX_FIELDS, allow_empty=False)
        return self._with(IndexDefinition(name, paths, bool(staged)))

    def staged_index(self, name: str, fields: Iterable[str]) -> TableDefinition:
        """Add an index that is backfilled but not queryable until it is made a normal index."""
        return self.index(name, fields, staged=True)

    def search_index(
        self,
        name: str,
        *,
        search_field: str,
        filter_fields: Iterable[str] = (),
        staged: bool = False,
    ) -> TableDefinition:
        """Add a full-text search index over ``search_field``."""
        where = f"Search index {_index_name(name)!r}"
        field = _path(where, search_field)
        filters = _paths(
            where, filter_fields, "filter fields", limit=MAX_FILTER_FIELDS, allow_empty=True
        )
        return self._with(SearchIndexDefinition(name, field, filters, bool(staged)))

    def vector_index(
        self,
        name: str,
        *,
        vector_field: str,
        dimensions: int,
        filter_fields: Iterable[str] = (),
        staged: bool = False,
    ) -> TableDefinition:
        """Add a vector index over ``vector_field`` (arrays of ``dimensions`` floats)."""
        where = f"Vector index {_index_name(name)!r}"
        field = _path(where, vector_field)
        if type(dimensions) is not int or not MIN_DIMENSIONS <= dimensions <= MAX_DIMENSIONS:
            raise ValueError(
                f"{where}: dimensions must be an int in {MIN_DIMENSIONS}..{MAX_DIMENSIONS}, "
                f"got {dimensions!r}"
            )
        filters = _paths(
            where, filter_fields, "filter fields", limit=MAX_FILTER_FIELDS, allow_empty=True
        )
        return self._with(VectorIndexDefinition(name, field, dimensions, filters, bool(staged)))

    def _key(self) -> tuple[Any, ...]:
        return (
            self.validator,
            frozenset(self.indexes),
            frozenset(self.search_indexes),
            frozenset(self.vector_indexes),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TableDefinition):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        names = ", ".join(i.name for i in self.all_indexes())
        return f"TableDefinition({self.validator!r}, indexes=[{names}])"

    def to_json(self) -> dict[str, Any]:
        """Convex's table JSON: ``documentType`` and the index lists."""

        def db(staged: bool) -> list[dict[str, Any]]:
            return [
                {"indexDescriptor": i.name, "fields": list(i.fields)}
                for i in self.indexes
                if i.staged is staged
            ]

        def search(staged: bool) -> list[dict[str, Any]]:
            return [
                {
                    "indexDescriptor": i.name,
                    "searchField": i.search_field,
                    "filterFields": list(i.filter_fields),
                }
                for i in self.search_indexes
                if i.staged is staged
            ]

        def vector(staged: bool) -> list[dict[str, Any]]:
            return [
                {
                    "indexDescriptor": i.name,
                    "vectorField": i.vector_field,
                    "dimensions": i.dimensions,
                    "filterFields": list(i.filter_fields),
                }
                for i in self.vector_indexes
                if i.staged is staged
            ]

        return {
            "documentType": self.validator.to_json(),
            "indexes": db(False),
            "stagedDbIndexes": db(True),
            "searchIndexes": search(False),
            "stagedSearchIndexes": search(True),
            "vectorIndexes": vector(False),
            "stagedVectorIndexes": vector(True),
        }

    @staticmethod
    def from_json(obj: Mapping[str, Any]) -> TableDefinition:
        """Rebuild (and re-check) a definition from :meth:`to_json` output."""
        table = define_table(validator_from_json(obj["documentType"]))
        for key, staged in (("indexes", False), ("stagedDbIndexes", True)):
            for i in obj.get(key) or ():
                table = table.index(
                    i["indexDescriptor"], i["fields"], staged=staged or bool(i.get("staged"))
                )
        for key, staged in (("searchIndexes", False), ("stagedSearchIndexes", True)):
            for i in obj.get(key) or ():
                table = table.search_index(
                    i["indexDescriptor"],
                    search_field=i["searchField"],
                    filter_fields=i.get("filterFields") or (),
                    staged=staged,
                )
        for key, staged in (("vectorIndexes", False), ("stagedVectorIndexes", True)):
            for i in obj.get(key) or ():
                table = table.vector_index(
                    i["indexDescriptor"],
                    vector_field=i["vectorField"],
                    dimensions=int(i["dimensions"]),
                    filter_fields=i.get("filterFields") or (),
                    staged=staged,
                )
        return table


def _index_name(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"Index names are strings, got {name!r}")
    if name in RESERVED_INDEX_NAMES or name.startswith("_"):
        raise ValueError(
            f"Index name {name!r} is reserved: by_id, by_creation_time and names starting "
            "with '_' belong to the system"
        )
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"Invalid index name {name!r}: use a letter, then letters, digits or "
            "underscores (at most 64 characters)"
        )
    return name


def define_table(fields: Mapping[str, Validator] | Validator) -> TableDefinition:
    """A table whose documents match ``fields``: a dict of validators, a ``v.object``,
    or a ``v.union`` of objects. ``_id`` and ``_creationTime`` are added by the system."""
    validator: Validator
    if isinstance(fields, Mapping):
        validator = v.object(fields)
    elif isinstance(fields, Validator):
        validator = fields
    else:
        raise TypeError(f"define_table() takes a dict of validators or a v.object, got {fields!r}")
    for obj in _objects(validator):
        for name in obj.fields:
            if name.startswith("_"):
                raise ValueError(
                    f"define_table(): field {name!r} starts with '_', which is reserved for "
                    "system fields (_id, _creationTime)"
                )
    return TableDefinition(cast(ObjectValidator | UnionValidator, validator))


def _objects(validator: Validator) -> list[ObjectValidator]:
    if isinstance(validator, ObjectValidator):
        return [validator]
    if isinstance(validator, UnionValidator):
        return [o for m in validator.members for o in _objects(m)]
    raise TypeError(
        "define_table() takes a dict of validators, a v.object(...) or a v.union(...) of "
        f"objects; got {validator!r}"
    )
