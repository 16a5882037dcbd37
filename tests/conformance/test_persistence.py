"""The Persistence contract (``pyconvex/persistence/base.py``), checked on every backend.

Each section names the numbered point of the contract it checks. Tests use only the
protocol, so a new backend passes or fails them unchanged.
"""

from __future__ import annotations

import asyncio

import pytest

from pyconvex.persistence import DocumentLogEntry as D
from pyconvex.persistence import IndexEntry as I
from pyconvex.persistence import Persistence
from pyconvex.persistence.base import LogCommit, PipelinedLog, SessionRecord, SessionRequestRow, SharedLog
from pyconvex.persistence.errors import StorageError

TABLE = 10001


def doc(ts: int, doc_id: str, value: bytes | None, prev: int | None = None) -> D:
    return D(ts, doc_id, TABLE, value, prev)


async def keys(store: Persistence, index_id: int, lo: bytes, hi: bytes | None, ts: int,
               order: str = "asc", limit: int = 1000) -> list[bytes]:
    return [r.key for r in await store.index_scan(index_id, lo, hi, ts, order, limit)]  # type: ignore[arg-type]


async def value_at(store: Persistence, doc_id: str, ts: int) -> bytes | None:
    entry = await store.get_document(doc_id, ts)
    return None if entry is None else entry.value


# --- 1 and 2: versions, snapshot reads, tombstones ---------------------------------

async def test_snapshot_reads_pick_the_newest_version_at_or_below(store: Persistence):
    await store.write([doc(10, "a", b"v10")], [I(1, b"ka", 10, "a")])
    await store.write([doc(20, "a", b"v20", 10)], [I(1, b"ka", 20, "a")])
    assert await store.get_document("a", 5) is None
    assert await store.get_document("a", 10) == doc(10, "a", b"v10")
    assert await store.get_document("a", 15) == doc(10, "a", b"v10")
    assert await store.get_document("a", 25) == doc(20, "a", b"v20", 10)
    assert await store.index_scan(1, b"", None, 5, "asc", 10) == []
    for ts, (doc_ts, value) in {10: (10, b"v10"), 15: (10, b"v10"), 25: (20, b"v20")}.items():
        rows = await store.index_scan(1, b"", None, ts, "asc", 10)
        assert [(r.key, r.doc_id, r.doc_ts, r.value) for r in rows] == [(b"ka", "a", doc_ts, value)]


async def test_scan_joins_the_document_version_at_the_snapshot(store: Persistence):
    # The key is written once; the document changes later without touching the key.
    await store.write([doc(10, "a", b"old")], [I(1, b"k", 10, "a")])
    await store.write([doc(20, "a", b"new", 10)], [])
    assert [(r.doc_ts, r.value) for r in await store.index_scan(1, b"", None, 15, "asc", 5)] == [
        (10, b"old")
    ]
    assert [(r.doc_ts, r.value) for r in await store.index_scan(1, b"", None, 20, "asc", 5)] == [
        (20, b"new")
    ]


async def test_tombstones_hide_documents_and_keys(store: Persistence):
    await store.write([doc(10, "a", b"x"), doc(10, "b", b"y")],
                      [I(1, b"k1", 10, "a"), I(1, b"k2", 10, "b")])
    await store.write([doc(20, "a", None, 10)], [I(1, b"k1", 20, None)])
    tomb = await store.get_document("a", 20)
    assert tomb == doc(20, "a", None, 10)  # get_document returns the tombstone itself
    assert await value_at(store, "a", 19) == b"x"
    assert await keys(store, 1, b"", None, 20) == [b"k2"]
    assert await keys(store, 1, b"", None, 19) == [b"k1", b"k2"]
    assert await keys(store, 1, b"", None, 20, "desc") == [b"k2"]
    # A key can come back to life, pointing at a new document.
    await store.write([doc(30, "c", b"z")], [I(1, b"k1", 30, "c")])
    rows = await store.index_scan(1, b"", None, 30, "asc", 10)
    assert [(r.key, r.doc_id, r.value) for r in rows] == [(b"k1", "c", b"z"), (b"k2", "b", b"y")]
    assert await keys(store, 1, b"", None, 25) == [b"k2"]


async def test_tombstoned_keys_do_not_count_towards_the_limit(store: Persistence):
    await store.write([doc(1, f"d{n}", b"v") for n in range(6)],
                      [I(1, bytes([n]), 1, f"d{n}") for n in range(6)])
    await store.write([], [I(1, bytes([n]), 2, None) for n in (0, 1, 2)])
    assert await keys(store, 1, b"", None, 2, "asc", 2) == [b"\x03", b"\x04"]
    assert await keys(store, 1, b"", None, 2, "desc", 4) == [b"\x05", b"\x04", b"\x03"]


async def test_values_are_opaque_bytes(store: Persistence):
    blob = bytes(range(256)) * 40
    await store.write([doc(1, "empty", b""), doc(1, "blob", blob)],
                      [I(1, b"e", 1, "empty"), I(1, b"b", 1, "blob")])
    assert await value_at(store, "empty", 1) == b""  # empty is not a tombstone
    assert await value_at(store, "blob", 1) == blob
    assert {r.doc_id: r.value for r in await store.index_scan(1, b"", None, 1, "asc", 10)} == {
        "empty": b"", "blob": blob
    }


async def test_documents_remember_table_and_prev_ts(store: Persistence):
    await store.write([D(5, "a", 42, b"1", None)], [])
    await store.write([D(7, "a", 42, b"2", 5)], [])
    assert await store.get_document("a", 7) == D(7, "a", 42, b"2", 5)
    assert await store.get_document("b", 7) is None


# --- 4: byte-range scans --------------------------------------------------------------

async def test_range_scans_bounds_order_limit_and_continuation(store: Persistence):
    ks = [bytes([k]) for k in range(1, 11)]
    await store.write([doc(1, f"d{k[0]}", b"v") for k in ks], [I(7, k, 1, f"d{k[0]}") for k in ks])
    assert await keys(store, 7, b"\x03", b"\x06", 5) == [b"\x03", b"\x04", b"\x05"]
    assert await keys(store, 7, b"\x03", b"\x06", 5, "desc") == [b"\x05", b"\x04", b"\x03"]
    assert await keys(store, 7, b"\x08", None, 5) == [b"\x08", b"\x09", b"\x0a"]
    assert await keys(store, 7, b"\x08", None, 5, "desc") == [b"\x0a", b"\x09", b"\x08"]
    assert await keys(store, 7, b"\x05", b"\x05", 5) == []
    assert await keys(store, 7, b"\x06", b"\x03", 5) == []
    assert await keys(store, 7, b"", None, 5, "asc", 3) == ks[:3]
    assert await keys(store, 7, b"", None, 5, "desc", 3) == ks[::-1][:3]
    assert await keys(store, 8, b"", None, 5) == []  # another index


async def test_continuation_walks_every_key_once(store: Persistence):
    ks = sorted({bytes([a, b]) for a in range(0, 256, 37) for b in (0, 1, 255)})
    await store.write([doc(1, "d", b"v")], [I(3, k, 1, "d") for k in ks])
    seen, lo = [], b""
    while rows := await store.index_scan(3, lo, None, 1, "asc", 4):
        seen += [r.key for r in rows]
        lo = rows[-1].key + b"\x00"  # the smallest key after the last one
    assert seen == ks
    seen, hi = [], None
    while rows := await store.index_scan(3, b"", hi, 1, "desc", 4):
        seen += [r.key for r in rows]
        hi = rows[-1].key  # hi is exclusive
    assert seen == ks[::-1]


async def test_keys_compare_as_unsigned_bytes(store: Persistence):
    ks = [b"", b"\x00", b"\x00\x00", b"\x01", b"a", b"a\x00", b"a\xff", b"b", b"\x7f", b"\x80", b"\xff",
          b"\xff\xff"]
    await store.write([doc(1, "d", b"v")], [I(1, k, 1, "d") for k in ks])
    assert await keys(store, 1, b"", None, 1) == sorted(ks)
    assert await keys(store, 1, b"", None, 1, "desc") == sorted(ks, reverse=True)
    assert await keys(store, 1, b"a", b"b", 1) == [b"a", b"a\x00", b"a\xff"]
    assert await keys(store, 1, b"\x80", None, 1) == [b"\x80", b"\xff", b"\xff\xff"]


# --- 3: atomic, durable batches -----------------------------------------------------

async def test_one_batch_may_hold_several_timestamps(store: Persistence):
    await store.write([doc(1, "a", b"1"), doc(2, "a", b"2", 1), doc(3, "b", b"3")],
                      [I(1, b"a", 1, "a"), I(1, b"b", 3, "b")])
    assert await value_at(store, "a", 1) == b"1"
    assert await value_at(store, "a", 2) == b"2"
    assert await value_at(store, "b", 2) is None
    assert await keys(store, 1, b"", None, 2) == [b"a"]
    assert await keys(store, 1, b"", None, 3) == [b"a", b"b"]
    assert await store.max_ts() == 3


@pytest.mark.parametrize(
    "documents, indexes",
    [
        ([doc(2, "b", b"2"), doc(2, "b", b"again")], [I(1, b"kb", 2, "b")]),  # duplicate in batch
        ([doc(2, "b", b"2"), doc(1, "a", b"dup")], [I(1, b"kb", 2, "b")]),  # duplicate of stored
        ([doc(2, "b", b"2")], [I(1, b"kb", 2, "b"), I(1, b"kb", 2, "b")]),  # duplicate index key
    ],
    ids=["duplicate-in-batch", "duplicate-of-stored", "duplicate-index-entry"],
)
async def test_failed_batch_leaves_nothing_visible(store: Persistence, documents, indexes):
    await store.write([doc(1, "a", b"1")], [I(1, b"ka", 1, "a")])
    with pytest.raises(StorageError) as info:
        await store.write(documents, indexes)
    assert info.value.short_msg == "StorageError"
    assert await store.get_document("b", 10) is None
    assert await value_at(store, "a", 10) == b"1"
    assert await keys(store, 1, b"", None, 10) == [b"ka"]
    assert await store.max_ts() == 1
    assert [e.ts async for e in store.load_documents(0)] == [1]
    await store.write([doc(3, "c", b"3")], [])  # the store still works
    assert await value_at(store, "c", 3) == b"3"


async def test_durable_across_close_and_reopen(make_store):
    store = await make_store()
    await store.write([doc(5, "a", b"x")], [I(1, b"k", 5, "a")])
    await store.write([doc(6, "a", None, 5)], [I(1, b"k", 6, None)])
    await store.set_global("instance", "one")
    await store.close()
    again = await make_store()
    assert await value_at(again, "a", 5) == b"x"
    assert await again.get_document("a", 6) == doc(6, "a", None, 5)
    assert await keys(again, 1, b"", None, 5) == [b"k"]
    assert await keys(again, 1, b"", None, 6) == []
    assert await again.get_global("instance") == "one"
    assert await again.max_ts() == 6
    await again.write([doc(7, "b", b"y")], [])  # appending continues after a reopen
    assert await again.max_ts() == 7


async def test_closed_store_refuses_work_and_close_is_idempotent(store: Persistence):
    await store.write([doc(1, "a", b"1")], [])
    await store.close()
    await store.close()
    with pytest.raises(StorageError):
        await store.get_document("a", 1)
    with pytest.raises(StorageError):
        await store.write([doc(2, "a", b"2", 1)], [])


async def test_close_waits_for_writes_already_handed_over(make_store):
    store = await make_store()
    writes = [asyncio.ensure_future(store.write([doc(ts, f"d{ts}", b"v")], []))
              for ts in range(1, 21)]
    await asyncio.sleep(0)  # every write is handed to the backend
    await store.close()
    await asyncio.gather(*writes)
    again = await make_store()
    assert await again.max_ts() == 20


async def test_concurrent_writes_are_all_applied(store: Persistence):
    await asyncio.gather(*(store.write([doc(ts, f"d{ts}", b"v")], [I(1, b"%05d" % ts, ts, f"d{ts}")])
                           for ts in range(1, 101)))
    assert len(await keys(store, 1, b"", None, 100)) == 100
    assert await store.max_ts() == 100


# --- log following ---------------------------------------------------------------------

async def test_load_documents_in_timestamp_order_with_bounds(store: Persistence):
    # Several ids per ts, so a chunk boundary falls inside one timestamp.
    entries = [doc(ts, f"d{n}", b"v") for ts in range(1, 801) for n in (3, 1, 2)]
    await store.write(entries, [])
    got = [(e.ts, e.id) async for e in store.load_documents(0)]
    assert got == sorted((e.ts, e.id) for e in entries)
    assert [e.ts async for e in store.load_documents(100, 200)] == sorted(list(range(100, 201)) * 3)
    assert [e async for e in store.load_documents(800)] == [doc(800, f"d{n}", b"v") for n in (1, 2, 3)]
    assert [e async for e in store.load_documents(801)] == []
    assert [e async for e in store.load_documents(5, 4)] == []


async def test_load_documents_includes_tombstones_and_prev_ts(store: Persistence):
    await store.write([doc(1, "a", b"1")], [])
    await store.write([doc(2, "a", None, 1)], [])
    assert [e async for e in store.load_documents(0)] == [doc(1, "a", b"1"), doc(2, "a", None, 1)]


async def test_load_index_entries_by_key_then_ts(store: Persistence):
    entries = [I(4, b"%04d" % n, ts, f"d{n}") for ts in (1, 2) for n in range(1500)]
    entries += [I(4, b"%04d" % n, 3, None) for n in range(0, 1500, 2)]
    entries += [I(5, b"other", 1, "x")]
    await store.write([], entries)
    got = [e async for e in store.load_index_entries(4)]
    assert got == sorted((e for e in entries if e.index_id == 4), key=lambda e: (e.key, e.ts))
    recent = [e async for e in store.load_index_entries(4, 3)]
    assert recent == [I(4, b"%04d" % n, 3, None) for n in range(0, 1500, 2)]
    assert [e async for e in store.load_index_entries(6)] == []


# --- metadata ----------------------------------------------------------------------------

async def test_globals(store: Persistence):
    assert await store.get_global("instance_name") is None
    await store.set_global("instance_name", "fluffy-otter-123")
    await store.set_global("admin_key_hash", "")
    await store.set_global("instance_name", "renamed")
    assert await store.get_global("instance_name") == "renamed"
    assert await store.get_global("admin_key_hash") == ""


async def test_max_ts(store: Persistence):
    assert await store.max_ts() == 0
    await store.write([doc(3, "a", b"1")], [])
    assert await store.max_ts() == 3
    await store.write([], [I(1, b"k", 9, "a")])  # an index entry alone counts too
    assert await store.max_ts() == 9
    await store.write([], [I(2, b"k", 4, "a")])  # a backfill below does not lower it
    assert await store.max_ts() == 9
    big = 2**63 - 1
    await store.write([doc(big, "z", b"int64 max")], [])
    assert await store.max_ts() == big
    assert await value_at(store, "z", big) == b"int64 max"
    assert [e.ts async for e in store.load_documents(big)] == [big]


# --- concurrency -------------------------------------------------------------------------

async def test_reads_proceed_while_a_write_is_in_flight(store: Persistence):
    await store.write([doc(1, "a", b"1")], [])
    n = 20_000
    big = [doc(2, f"b{i:05}", b"x" * 200) for i in range(n)]
    # Only the batch's first and last documents are in index 9: a scan sees both or none.
    writing = asyncio.ensure_future(
        store.write(big, [I(9, b"first", 2, "b00000"), I(9, b"last", 2, f"b{n - 1:05}")])
    )
    await asyncio.sleep(0)
    reads_during_write = 0
    while not writing.done():
        assert await value_at(store, "a", 10) == b"1"
        assert len(await keys(store, 9, b"", None, 10)) in (0, 2)
        reads_during_write += 1
        await asyncio.sleep(0)
    await writing
    assert reads_during_write > 0
    assert await keys(store, 9, b"", None, 10) == [b"first", b"last"]
    assert await value_at(store, f"b{n - 1:05}", 2) == b"x" * 200


# --- session request rows (beside the commits, outside the document log) -------------

async def _commit(store: Persistence, ts: int, documents: list[D], record: SessionRecord | None) -> None:
    """One commit as the committer hands it to the backend: through the write pipeline
    (SQLite) or the shared head (PostgreSQL)."""
    if isinstance(store, PipelinedLog):
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        rows = [(d.id, d.table_number, d.value, d.prev_ts) for d in documents]
        store.write_commits_then(
            [(ts, rows, [], record)],
            lambda e: done.set_exception(e) if e is not None else done.set_result(None))
        await done
        return
    assert isinstance(store, SharedLog)
    sessions = [SessionRequestRow(ts, *record)] if record is not None else []
    assert await store.commit_shared(documents, [], [LogCommit(ts, ())], await store.max_ts(),
                                     sessions)


async def test_session_request_rows_commit_with_their_commit(make_store):
    store = await make_store()
    await _commit(store, 10, [doc(10, "a", b"v")], ("s", 1, 5.0, b"first"))
    await _commit(store, 20, [], ("s", 2, 6.5, b"second"))  # a commit with nothing else
    first, second = SessionRequestRow(10, "s", 1, 5.0, b"first"), SessionRequestRow(20, "s", 2, 6.5, b"second")
    assert await store.get_session_request("s", 1) == first
    assert await store.get_session_request("s", 3) is None
    assert await store.get_session_request("t", 1) is None
    assert await store.max_ts() == 20  # the record-only commit is the head
    await store.close()
    again = await make_store()
    assert await again.get_session_request("s", 1) == first
    assert await again.oldest_session_requests(10) == [first, second]
    assert await again.oldest_session_requests(1) == [first]
    assert await again.delete_session_requests_through(10) == 1
    assert await again.oldest_session_requests(10) == [second]
    assert await again.get_session_request("s", 1) is None
    assert await again.get_session_request("s", 2) == second
    # A second record of one request (a client that broke the protocol) does not fail
    # the commit it rides in: the commit lands, and the lookup answers the first record.
    await _commit(again, 30, [doc(30, "b", b"w")], ("s", 2, 7.0, b"again"))
    assert await value_at(again, "b", 30) == b"w"
    assert await again.get_session_request("s", 2) == second
