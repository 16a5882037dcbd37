from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyconvex.errors import InvalidIdError
from pyconvex.values import decode_id, encode_id, is_valid_id, new_id


def test_reference_vector():
    assert encode_id(10001, bytes(range(16))) == "j57000820c20a1g7104gm2rc1m70ynr8"
    assert decode_id("j57000820c20a1g7104gm2rc1m70ynr8") == (10001, bytes(range(16)))


@given(st.integers(1, 2**32 - 1), st.binary(min_size=16, max_size=16))
def test_round_trip(table, internal):
    assert decode_id(encode_id(table, internal)) == (table, internal)


def test_new_ids_are_distinct_and_valid():
    ids = {new_id(10001) for _ in range(2000)}
    assert len(ids) == 2000 and all(decode_id(i)[0] == 10001 for i in ids)


def test_new_ids_of_a_table_sort_in_the_order_they_were_made():
    """What keeps inserts at the right edge of the documents and by_id b-trees (as
    strings and as internal bytes), even for ids made within one microsecond."""
    ids = [new_id(10001) for _ in range(2000)]
    assert ids == sorted(ids)
    internals = [decode_id(i)[1] for i in ids]
    assert internals == sorted(internals)
    assert len({i[7:] for i in internals}) == 2000  # and the random part differs


@pytest.mark.parametrize(
    ("s", "why"),
    [
        ("j57000820c20a1g7104gm2rc1m70ynr9", "checksum"),
        ("J57000820C20A1G7104GM2RC1M70YNR8", "alphabet"),
        ("short", "wrong length"),
        ("j57000820c20a1g7104gm2rc1m70ynu8", "alphabet"),
    ],
)
def test_malformed_ids_are_refused_with_a_reason(s, why):
    with pytest.raises(InvalidIdError, match=why):
        decode_id(s)
    assert not is_valid_id(s)


@given(st.binary(min_size=0, max_size=40))
def test_base32_is_rfc4648_in_crockfords_alphabet(data):
    """The unrolled 40-bit-word path (ids of up to 20 bytes) and the general one both
    match the standard library's base32, unpadded, in the id alphabet."""
    import base64

    from pyconvex.values.ids import ALPHABET, _b32encode

    standard = base64.b32encode(data).rstrip(b"=").decode()
    assert _b32encode(data) == standard.translate(
        str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET)
    )



@pytest.mark.parametrize("table", [1, 10, 127, 128, 10001, 16383, 16384, 2**21, 2**32 - 1])
def test_new_ids_are_what_encode_id_makes_of_their_bytes(table):
    """new_id builds the string from cached leading characters and random characters
    made a fill at a time (with the checksum's shares): the result is exactly the
    reference encoding of its internal bytes, across fills (256 ids each)."""
    from pyconvex.values import ids

    for _ in range(600):
        made = new_id(table)
        ids._decoded.clear()  # decode the string itself, not the remembered bytes
        number, internal = decode_id(made)
        assert number == table and encode_id(table, internal) == made


def test_new_ids_of_every_small_table_number_are_the_reference_encoding():
    """Table numbers below 128 (a 1-byte prefix: every system table) and below 16,384
    (2 bytes) take cached-character layouts of their own; numbers 0..300 cover both
    and the change between them, each across random parts."""
    from pyconvex.values import ids

    with pytest.raises(ValueError):
        new_id(0)
    for table in range(1, 301):
        for _ in range(40):
            made = new_id(table)
            ids._decoded.clear()
            number, internal = decode_id(made)
            assert number == table and encode_id(table, internal) == made


@pytest.mark.parametrize("table", [10, 10001])
def test_new_ids_are_the_reference_encoding_at_every_low_clock_value(table, monkeypatch):
    """The clock's low 14 bits (those not in the cached characters of a 1-byte table
    number's ids) all occur: one id per microsecond for 16,384 microseconds."""
    import time

    from pyconvex.values import ids

    start = max(time.time_ns() // 1000, ids._source._last) + 1
    ticks = iter(range(start, start + (1 << 14)))
    monkeypatch.setattr(ids, "_clock_ns", lambda: next(ticks) * 1000)
    for _ in range(1 << 14):
        made = new_id(table)
        ids._decoded.clear()
        number, internal = decode_id(made)
        assert number == table and encode_id(table, internal) == made
