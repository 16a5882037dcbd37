"""The Convex value model: types, JSON codec, ordering, key encoding, ids, sizes.

This package knows nothing of the rest of pyconvex.
"""

from pyconvex.values.ids import decode_id, encode_id, is_valid_id, new_id
from pyconvex.values.json import convex_to_clean_json, convex_to_json, dumps, json_to_convex, loads
from pyconvex.values.keys import decode_key, encode_key, encode_value, prefix_end
from pyconvex.values.ordering import compare_values
from pyconvex.values.paths import get_path, validate_field_name, validate_field_path
from pyconvex.values.size import check_document_limits, value_size
from pyconvex.values.types import (
    INT64_MAX,
    INT64_MIN,
    MISSING,
    Document,
    Id,
    IdTable,
    Missing,
    Value,
)

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MISSING",
    "Document",
    "Id",
    "IdTable",
    "Missing",
    "Value",
    "check_document_limits",
    "compare_values",
    "convex_to_clean_json",
    "convex_to_json",
    "decode_id",
    "decode_key",
    "dumps",
    "encode_id",
    "encode_key",
    "encode_value",
    "get_path",
    "is_valid_id",
    "json_to_convex",
    "loads",
    "new_id",
    "prefix_end",
    "validate_field_name",
    "validate_field_path",
    "value_size",
]
