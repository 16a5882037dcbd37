"""How documents are stored and indexed: Convex JSON bytes, and order-preserving keys."""

from __future__ import annotations

import struct
from collections.abc import Iterable

import orjson

from pyconvex.database.catalog import IndexInfo
from pyconvex.values import MISSING, Document, dumps, encode_key, get_path, loads
from pyconvex.values.keys import encode_element

_pack_double = struct.Struct(">d").pack


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


def index_keys(indexes: Iterable[IndexInfo], doc: Document) -> dict[int, bytes]:
    """``doc``'s key in each of ``indexes`` (by index id), as :func:`index_key` gives
    them, with ``_id`` and ``_creationTime`` encoded once: every index ends with ``_id``
    and all but ``by_id`` with ``_creationTime``, and a write computes the keys of all
    its table's indexes. Few objects made: they are what the collector walks."""
    id_part = ct_part = b""
    keys: dict[int, bytes] = {}
    for index in indexes:
        fields = index.key_fields
        if len(fields) == 1:  # by_id
            keys[index.id] = id_part or (id_part := encode_element(doc["_id"]))
            continue
        key = b""
        for field in fields:
            if field == "_id":
                key += id_part or (id_part := encode_element(doc["_id"]))
            elif field == "_creationTime":
                key += ct_part or (ct_part := encode_element(get_path(doc, field)))
            else:
                key += encode_element(get_path(doc, field))
        keys[index.id] = key
    return keys



def new_index_keys(
    indexes: tuple[tuple[int, tuple[str, ...] | None], ...],
    doc: Document,
    doc_id: str,
    created: float,
) -> dict[int, bytes]:
    """:func:`index_keys` of a new document, whose ``_id`` is ``doc_id`` and
    ``_creationTime`` ``created``, in indexes given as ``(index id, the fields before
    _creationTime)`` (None: ``by_id``): the same keys, from a recipe an insert keeps
    per table. An id is lowercase base32, so its string element needs no escaping."""
    id_part = b"\x06" + doc_id.encode() + b"\x00"
    # encode_element's own first cases, without its call: a positive float (every
    # _creationTime) and a string without NUL (most indexed fields).
    if type(created) is float and created > 0.0:
        tail = b"\x04" + _pack_double(-created) + id_part
    else:
        tail = encode_element(created) + id_part
    keys: dict[int, bytes] = {}
    for index_id, fields in indexes:
        if fields is None:
            keys[index_id] = id_part
        elif not fields:
            keys[index_id] = tail
        elif len(fields) == 1:
            field = fields[0]
            value = doc.get(field, MISSING) if "." not in field else get_path(doc, field)
            if type(value) is str and "\x00" not in value:
                keys[index_id] = b"\x06" + value.encode() + b"\x00" + tail
            else:
                keys[index_id] = encode_element(value) + tail
        else:  # (a loop, not a comprehension and a join: one frame fewer per key)
            key = b""
            for field in fields:
                key += encode_element(
                    doc.get(field, MISSING) if "." not in field else get_path(doc, field))
            keys[index_id] = key + tail
    return keys


def index_recipe(index: IndexInfo) -> tuple[int, tuple[str, ...] | None]:
    """``index`` as :func:`new_index_keys` takes it."""
    fields = index.key_fields
    return index.id, None if len(fields) == 1 else fields[:-2]
