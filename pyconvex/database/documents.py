"""How documents are stored and indexed: Convex JSON bytes, and order-preserving keys."""

from __future__ import annotations

import orjson

from pyconvex.database.catalog import IndexInfo
from pyconvex.values import Document, dumps, encode_key, get_path, loads


def encode_document(doc: Document) -> bytes:
    return dumps(doc)


def decode_document(data: bytes) -> Document:
    # Every special encoding ($integer, $float, $bytes) contains a "$"; and since the
    # encoder writes every float64 with a decimal point, a document without "$" decodes
    # exactly with a plain JSON parse, which is several times faster than a full walk.
    if b"$" not in data:
        doc: Document = orjson.loads(data)
        return doc
    value = loads(data)
    assert isinstance(value, dict)
    return value


def index_key(index: IndexInfo, doc: Document) -> bytes:
    """The key of ``doc`` in ``index``: its index fields, ``_creationTime``, then ``_id``."""
    fields = index.key_fields
    if len(fields) == 1:
        return encode_key([doc["_id"]])
    return encode_key([get_path(doc, f) for f in fields])
