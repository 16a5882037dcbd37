"""An insert's plan per table: what ``TransactionWrites._insert_fields`` needs of a
table and its schema, worked out once per (catalog, schema) instead of looked up by
name on every insert. Kept apart from ``transaction_writes.py``, which holds the writes
themselves; ``tests/database/test_insert_plan.py`` holds the planned path to the general
one (documents, bytes, keys, sizes and messages).
"""

from __future__ import annotations

from typing import Any

from pyconvex.database.catalog import TableInfo
from pyconvex.database.documents import index_recipe
from pyconvex.schema import ObjectValidator, SchemaDefinition
from pyconvex.schema.checks import Node


class InsertPlan:
    """What an insert into one table, under one schema, needs and would otherwise look
    up by name each time: the compiled check (node) of the table's own fields (None:
    the document is checked whole, or not at all), and each index's key recipe."""

    __slots__ = ("check", "check_whole", "indexes", "plain", "schema", "table", "uses_ids")

    def __init__(self, table: TableInfo, schema: SchemaDefinition | None) -> None:
        self.table = table
        self.schema = schema
        self.check: Node | None = None
        definition = (
            schema.tables.get(table.name)
            if schema is not None and schema.schema_validation else None
        )
        validator = definition.validator if definition is not None else None
        if isinstance(validator, ObjectValidator) and not any(
            name.startswith("_") for name in validator.fields
        ):
            # The document validator is this one with _id and _creationTime appended,
            # which an insert's own values always pass: checking the given fields alone
            # gives the same fields, in the same order, and the same failures.
            self.check = validator.node()
        self.check_whole = definition is not None and self.check is None
        """The document is checked whole (``TransactionWrites._check_schema``): the
        table's validator is not an object of user fields alone."""
        self.uses_ids = validator is not None and validator.uses_ids()
        self.indexes = tuple(index_recipe(index) for index in table.indexes.values())
        # Every value the check passes is its own JSON (strings, ids, booleans, null):
        # the checked document, with its positive finite _creationTime, encodes as
        # orjson's dump of it, exactly the bytes ``encode_document`` gives, without its
        # walk (``convex_to_json`` copies the document to turn each Id into a str).
        self.plain = self.check is not None and isinstance(validator, ObjectValidator) and all(
            _plain_json(field.to_json()) for field in validator.fields.values()
        )


_PLAIN_TYPES = frozenset({"string", "id", "boolean", "null"})


def _plain_json(validator: Any) -> bool:
    """Whether every value ``validator`` (its JSON form) accepts is its own Convex JSON
    (no $integer, $float, $bytes; no nested object whose keys need checking)."""
    kind = validator.get("type")
    if kind in _PLAIN_TYPES:
        return True
    if kind == "literal":
        return type(validator.get("value")) in (str, bool)
    if kind == "union":
        return all(_plain_json(member) for member in validator.get("value", ()))
    return False


_plans: dict[int, InsertPlan] = {}


def plan_of(table: TableInfo, schema: SchemaDefinition | None) -> InsertPlan:
    """The plan of ``table`` under ``schema``, kept by the table's id. Catalogs and
    schemas are immutable, so a plan is found by their identity (a plan keeps both
    alive, so their ids are not reused while it is kept)."""
    plan = _plans.get(id(table))
    if plan is None or plan.table is not table or plan.schema is not schema:
        if len(_plans) >= 256:
            _plans.clear()
        plan = _plans[id(table)] = InsertPlan(table, schema)
    return plan
