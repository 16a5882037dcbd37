"""The session record's own encoder writes exactly the bytes the generic document
encoder would, for any recorded value, log lines and request id: a replay decodes it
with the generic decoder. Its index keys, from the insert plan, are exactly the generic ones."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyconvex.database.catalog import SESSION_REQUESTS_TABLE, SYSTEM_TABLES
from pyconvex.database.documents import decode_document, encode_document, index_keys, new_index_keys
from pyconvex.database.insert_plan import plan_of
from pyconvex.database.session_requests import _encode_record
from pyconvex.values import INT64_MAX, INT64_MIN, convex_to_json, new_id
from tests.values.strategies import texts, values

pytestmark = pytest.mark.one_backend


@given(
    value=values,
    lines=st.lists(texts, max_size=4),
    request_id=st.integers(INT64_MIN, INT64_MAX),
    created=st.floats(min_value=0, max_value=4e12, allow_nan=False),
    session=texts,
    identity=texts,
)
def test_the_record_encodes_as_any_document(value, lines, request_id, created, session, identity):
    doc = {
        "_id": new_id(10),
        "_creationTime": created,
        "sessionId": session,
        "requestId": request_id,
        "identity": identity,
        "result": orjson.dumps(convex_to_json(value)),
        "logLines": lines,
    }
    encoded = _encode_record(doc)
    assert encoded == encode_document(doc)
    assert decode_document(encoded) == doc


@given(
    request_id=st.integers(INT64_MIN, INT64_MAX),
    created=st.floats(min_value=0.001, max_value=4e12, allow_nan=False),
    session=texts,
)
def test_the_records_own_keys_are_the_generic_ones(request_id, created, session):
    """The record's keys come from its table's insert plan (``insert_system``): session
    ids may hold any text (a NUL is escaped); the request id is any int64."""
    table = next(t for t in SYSTEM_TABLES if t.name == SESSION_REQUESTS_TABLE)
    doc = {"_id": new_id(10), "_creationTime": created, "sessionId": session,
           "requestId": request_id, "identity": "user:", "result": b"null", "logLines": []}
    keys = new_index_keys(plan_of(table, None).indexes, doc, doc["_id"], created)
    assert keys == index_keys(table.indexes.values(), doc)
