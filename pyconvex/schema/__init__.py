"""Schemas: validators (``v``), tables and their indexes, schema diffs."""

from pyconvex.schema.diff import SchemaDiff, diff_schemas
from pyconvex.schema.inference import args_validator_from_signature, validator_from_annotation
from pyconvex.schema.schema import SchemaDefinition, define_schema
from pyconvex.schema.tables import (
    IndexDefinition,
    SearchIndexDefinition,
    TableDefinition,
    VectorIndexDefinition,
    define_table,
)
from pyconvex.schema.validators import (
    Check,
    IdResolver,
    ObjectValidator,
    ValidationFailure,
    Validator,
    pagination_opts_validator,
    v,
    validator_from_json,
)

__all__ = [
    "Check",
    "IdResolver",
    "IndexDefinition",
    "ObjectValidator",
    "SchemaDefinition",
    "SchemaDiff",
    "SearchIndexDefinition",
    "TableDefinition",
    "ValidationFailure",
    "Validator",
    "VectorIndexDefinition",
    "args_validator_from_signature",
    "define_schema",
    "define_table",
    "diff_schemas",
    "pagination_opts_validator",
    "v",
    "validator_from_annotation",
    "validator_from_json",
]
