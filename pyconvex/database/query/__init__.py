"""The query engine: index ranges, filters, pagination cursors."""

from pyconvex.database.query.filter import FilterBuilder, compile_filter
from pyconvex.database.query.index_range import IndexRangeBuilder
from pyconvex.database.query.pagination import END_CURSOR, decode_cursor, encode_cursor
from pyconvex.database.query.plan import Query

__all__ = [
    "END_CURSOR",
    "FilterBuilder",
    "IndexRangeBuilder",
    "Query",
    "compile_filter",
    "decode_cursor",
    "encode_cursor",
]
