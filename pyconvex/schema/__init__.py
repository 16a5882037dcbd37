"""Schemas: the ``v`` validators, tables and their indexes, schemas and their diffs.

This layer knows the shape of data, never where it is stored: it imports only
``pyconvex.values``, ``pyconvex.errors`` and the standard library. Validators are
described once (``v.*``), stored as Convex's validator JSON, and compiled once into
closures that check and normalise values (``Validator.compile()``).
"""

from pyconvex.schema.base import Check, IdResolver, ValidationFailure, Validator
from pyconvex.schema.diff import IndexChange, SchemaDiff, TableDiff, diff_schemas
from pyconvex.schema.inference import (
    args_validator_from_signature,
    check_handler_accepts,
    validator_from_annotation,
)
from pyconvex.schema.schema import SchemaDefinition, define_schema
from pyconvex.schema.tables import (
    IndexDefinition,
    SearchIndexDefinition,
    TableDefinition,
    VectorIndexDefinition,
    define_table,
)
from pyconvex.schema.validators import (
    ObjectValidator,
    pagination_opts_validator,
    v,
    validator_from_json,
)

__all__ = [
    "Check",
    "IdResolver",
    "IndexChange",
    "IndexDefinition",
    "ObjectValidator",
    "SchemaDefinition",
    "SchemaDiff",
    "SearchIndexDefinition",
    "TableDefinition",
    "TableDiff",
    "ValidationFailure",
    "Validator",
    "VectorIndexDefinition",
    "args_validator_from_signature",
    "check_handler_accepts",
    "define_schema",
    "define_table",
    "diff_schemas",
    "pagination_opts_validator",
    "v",
    "validator_from_annotation",
    "validator_from_json",
]
