"""The session record's stored form: any recorded value, log lines and identity come
back exactly; its lookup key is the start of every key the record's old document index gave the same
request (so the lookup's range covers both forms, and copies of one request conflict
whichever form recorded it)."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyconvex.database.catalog import SESSION_REQUESTS_TABLE, SYSTEM_TABLES
from pyconvex.database.documents import index_key
from pyconvex.database.session_requests import (
    BY_REQUEST,
    REQUEST_INDEX_ID,
    decode_record,
    encode_record,
    find_session_request,
    record_head,
    record_session_value,
    request_key,
)
from pyconvex.persistence.base import SessionRequestRow
from pyconvex.values import INT64_MAX, INT64_MIN, convex_to_json, encode_key
from tests.values.strategies import texts, values
from tests.values.test_ordering_props import same

pytestmark = pytest.mark.one_backend


@given(
    value=values,
    lines=st.lists(texts, max_size=4),
    identity=texts,
    ts=st.integers(1, INT64_MAX),
    created=st.floats(min_value=0, max_value=4e12, allow_nan=False),
)
def test_a_record_decodes_to_what_was_recorded(value, lines, identity, ts, created):
    row = SessionRequestRow(ts, "s", 0, created, encode_record(identity, value, lines))
    record = decode_record(row)
    assert (record.identity, record.log_lines, record.ts) == (identity, lines, ts)
    assert same(record.value, value)  # NaN, -0.0 and int/float kept apart


@pytest.mark.parametrize(("identity", "value", "lines"), [
    ("user:", "k57abc", []),
    ("admin:", None, ['a "quoted" line', "é"]),
    ('user:issuer|"sub"\u00e9', {"a": [1, 2.5, b"x", 2**40], "nan": float("nan")}, ["l"]),
    ("user:x", [float("-inf"), -0.0, True, {}], []),
])
async def test_a_record_joined_from_its_parts_is_the_same_bytes(db, identity, value, lines):
    """A session's mutation records with its identity's remembered head and keeps the
    value's JSON for its response frame: the record is byte for byte the one-call
    encoding, the JSON is the value's, and a resend is answered from it."""
    txn = db.begin()
    encoded = record_session_value(txn, "s", 7, record_head(identity), value, lines)
    assert encoded == orjson.dumps(convex_to_json(value))
    assert txn.session_record is not None
    assert txn.session_record[1][3] == encode_record(identity, value, lines)
    # Both are the one JSON array's bytes, as orjson writes it.
    assert encode_record(identity, value, lines) == orjson.dumps(
        [identity, convex_to_json(value), lines])
    ts = await db.commit(txn)
    record = await find_session_request(db.begin(), "s", 7)
    assert record is not None
    assert (record.identity, record.log_lines, record.ts) == (identity, lines, ts)
    assert same(record.value, value)


@given(request_id=st.integers(INT64_MIN, INT64_MAX), session=texts)
def test_the_lookup_key_is_the_old_indexs_key(request_id, session):
    table = next(t for t in SYSTEM_TABLES if t.name == SESSION_REQUESTS_TABLE)
    index = table.indexes[BY_REQUEST]
    assert index.id == REQUEST_INDEX_ID
    doc = {"_id": "x", "_creationTime": 1.0, "sessionId": session, "requestId": request_id}
    # The old document's key is the lookup key followed by its creation time and id.
    assert index_key(index, doc) == request_key(session, request_id) + encode_key([1.0, "x"])


@pytest.mark.parametrize("request_id", [0, 1, 255, 2**31, 2**32 - 1, 2**32, -1, INT64_MAX])
@pytest.mark.parametrize("session", ["s", "0b6a4c1e-2f3d-4e5f-8a9b-0c1d2e3f4a5b", "a\x00b"])
def test_the_lookup_key_is_its_two_elements_whichever_way_each_is_made(request_id, session):
    """A session's part is remembered and a request id packed directly: the same bytes
    as encoding both, first time or again."""
    for _ in range(2):
        assert request_key(session, request_id) == encode_key([session, request_id])
