"""Document ids in Convex's reference format (docs/protocol.md §13).

Bytes: ``vint(table_number)`` (LEB128, 7 bits a byte) + 16 bytes of internal id + a
2-byte little-endian footer ``fletcher16(vint + internal) XOR 0`` (version 0); encoded
in lowercase Crockford base32, most significant bits first, no padding. Decoding is
strict: the string must re-encode to itself. Clients never parse ids; the server uses
them to know a document's table without a lookup.
"""

from __future__ import annotations

import functools
import operator
import os
import sys
import threading
import time
from array import array
from itertools import accumulate

from pyconvex.errors import InvalidIdError

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_DECODE = {c: i for i, c in enumerate(ALPHABET)}
INTERNAL_ID_LEN = 16


def _vint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _fletcher16(data: bytes) -> int:
    # c0 = sum(b), c1 = sum of the running sums = sum(b_i * (n - i)), both mod 256.
    c0: int = sum(data) % 256
    c1: int = sum(map(operator.mul, data, range(len(data), 0, -1))) % 256
    return (c1 << 8) | c0


_PAIRS = [a + b for a in ALPHABET for b in ALPHABET]  # every 10-bit value as two digits


def _b32encode(data: bytes) -> str:
    # MSB-first with zero fill (as RFC 4648 base32, in Crockford's alphabet), ten bits at
    # a time: every insert makes an id, and the standard library's base32 is pure Python
    # in 3.11. An id of a table numbered below 16,384 is 19 or 20 bytes: one 160-bit
    # integer cut into four 40-bit words of small integers, unrolled (a quarter fewer
    # instructions than shifting the 160-bit integer sixteen times in a loop, and a
    # quarter fewer again than slicing the bytes into the four words).
    size = len(data)
    if size <= 20:
        n = int.from_bytes(data, "big") << (160 - 8 * size)
        a = n >> 120
        b = (n >> 80) & 0xFFFFFFFFFF
        c = (n >> 40) & 0xFFFFFFFFFF
        d = n & 0xFFFFFFFFFF
        p = _PAIRS
        out = "".join((
            p[a >> 30], p[(a >> 20) & 1023], p[(a >> 10) & 1023], p[a & 1023],
            p[b >> 30], p[(b >> 20) & 1023], p[(b >> 10) & 1023], p[b & 1023],
            p[c >> 30], p[(c >> 20) & 1023], p[(c >> 10) & 1023], p[c & 1023],
            p[d >> 30], p[(d >> 20) & 1023], p[(d >> 10) & 1023], p[d & 1023],
        ))
        return out if size == 20 else out[: (size * 8 + 4) // 5]
    bits = size * 8
    pairs = (bits + 9) // 10
    n = int.from_bytes(data, "big") << (pairs * 10 - bits)
    out = "".join([_PAIRS[(n >> shift) & 1023] for shift in range(pairs * 10 - 10, -10, -10)])
    return out[: (bits + 4) // 5]


def _b32decode(s: str) -> bytes:
    n = 0
    for ch in s:
        d = _DECODE.get(ch)
        if d is None:
            raise ValueError(f"character {ch!r} is not in the id alphabet")
        n = (n << 5) | d
    bits = len(s) * 5
    nbytes = bits // 8
    extra = bits - nbytes * 8
    if n & ((1 << extra) - 1):
        raise ValueError("non-zero padding bits")
    return (n >> extra).to_bytes(nbytes, "big")


def encode_id(table_number: int, internal: bytes) -> str:
    if table_number < 1 or table_number >= 1 << 32:
        raise ValueError(f"table number {table_number} out of range")
    if len(internal) != INTERNAL_ID_LEN:
        raise ValueError("internal id must be 16 bytes")
    return _encode(table_number, internal)


def _encode(table_number: int, internal: bytes) -> str:
    prefix, c0, c1 = _table_prefix(table_number)
    # fletcher16(prefix + internal), the prefix's share computed once per table: byte i
    # of n counts (n - i) times in c1, so the prefix's bytes count 16 more each; the
    # internal bytes' share, the sum of their running sums (no multiplication per byte).
    c0 = (c0 + sum(internal)) % 256
    c1 = (c1 + sum(accumulate(internal))) % 256
    return _b32encode(prefix + internal + bytes((c0, c1)))


@functools.lru_cache(maxsize=1024)
def _table_prefix(table_number: int) -> tuple[bytes, int, int]:
    """``vint(table_number)`` and its shares of fletcher16's two sums: every insert
    makes an id, and a deployment has few tables."""
    prefix = _vint(table_number)
    n = len(prefix) + INTERNAL_ID_LEN
    return prefix, sum(prefix), sum(b * (n - i) for i, b in enumerate(prefix))


def decode_id(s: str) -> tuple[int, bytes]:
    """``(table_number, internal_id)``; :class:`InvalidIdError` says why not."""
    if not isinstance(s, str):
        raise InvalidIdError(f"Invalid id {s!r}: ids are strings")
    found = _decoded.get(s)
    return found if found is not None else _remember(s, _decode_id(s))


# Decoded ids, remembered: one write decodes the same id several times (the call's
# argument check, the schema check, the table lookup, the read of the old version), each
# a base32 decode, a checksum and a canonical-form re-encode. A new id goes in as it is
# made, so the schema check of an insert's own ``_id`` decodes nothing. A refused id
# raises and is not kept. Emptied when full (new ids pass through it at insert rate).
_decoded: dict[str, tuple[int, bytes]] = {}
_DECODED_MAX = 4096


def _remember(s: str, decoded: tuple[int, bytes]) -> tuple[int, bytes]:
    if len(_decoded) >= _DECODED_MAX:
        _decoded.clear()
    _decoded[str(s)] = decoded
    return decoded


def _decode_id(s: str) -> tuple[int, bytes]:
    def bad(why: str) -> InvalidIdError:
        return InvalidIdError(f"Invalid id {s!r}: {why}")

    if not 31 <= len(s) <= 37:
        raise bad("wrong length")
    try:
        data = _b32decode(s)
    except ValueError as e:
        raise bad(str(e)) from None
    number = 0
    shift = 0
    pos = 0
    while True:
        if pos >= len(data) or pos >= 5:
            raise bad("malformed table number")
        byte = data[pos]
        number |= (byte & 0x7F) << shift
        shift += 7
        pos += 1
        if not byte & 0x80:
            break
    if len(data) != pos + INTERNAL_ID_LEN + 2:
        raise bad("wrong length")
    body = data[: pos + INTERNAL_ID_LEN]
    footer = int.from_bytes(data[-2:], "little")
    if footer != _fletcher16(body):
        raise bad("checksum mismatch")
    if number < 1 or _b32encode(data) != s:
        raise bad("not in canonical form")
    return number, data[pos : pos + INTERNAL_ID_LEN]


def is_valid_id(s: object) -> bool:
    try:
        decode_id(s)  # type: ignore[arg-type]
        return True
    except InvalidIdError:
        return False


# New internal ids: 7 bytes of a per-process clock in microseconds, strictly increasing,
# then 9 random bytes. Ids are keys of the documents table and of every table's by_id
# index, so with random ids each insert dirtied a b-tree page of its own, written whole
# to SQLite's WAL (or PostgreSQL's) at every commit: about five 4 KiB pages per inserted
# document. Increasing ids land at the right edge of their table's key range, where a
# commit group's inserts share pages. The clock reveals nothing `_creationTime` does not
# already; 72 random bits keep ids of other processes (several servers on PostgreSQL)
# and clock steps backwards unique, and ids unguessable.
_CLOCK_BYTES = 7
_RANDOM_BYTES = INTERNAL_ID_LEN - _CLOCK_BYTES
_IDS_PER_FILL = 256  # one os.urandom call and one _IdSource._refill per 256 ids
# A random part's byte j counts 9 - j times in fletcher16's second sum, once in the
# first: the multipliers of _IdSource._refill's products (lane t weighs byte 8 - t).
_WEIGHTS = sum((t + 1) << (16 * t) for t in range(_RANDOM_BYTES))
_ONES = sum(1 << (16 * t) for t in range(_RANDOM_BYTES))
_DIGITS = ALPHABET.encode() + bytes(256 - 32)


def _repeat(width: int, stride: int) -> int:
    """``width`` low bits of every ``stride``-bit lane of one fill's 128-bit slots."""
    return sum(((1 << width) - 1) << (stride * i) for i in range(_IDS_PER_FILL * 128 // stride))


_SLOT_MASK = _repeat(60, 128)
# _IdSource._refill's spreading of each slot's 80 low bits into 16 bytes: each step
# moves the high half (``width`` bits) of every lane to the lane's upper half.
_SPREAD = [(w, _repeat(w, 2 * lane), lane) for w, lane in ((40, 64), (20, 32), (10, 16), (5, 8))]


_clock_ns = time.time_ns
"""The real clock, taken at import: inside a function ``time.time_ns`` is the
deterministic stand-in (``functions/runtime/determinism.py``), which reads a context
variable first and gives the function's frozen start time, not the time now."""


class _IdSource:
    """New ids, made whole: the increasing clock, os.urandom in bulk (one system call
    per 256 ids) and the id string, with as little work per id as the format allows.

    Every insert makes an id, and building the 20 bytes and encoding them (a checksum
    pass, a base32 pass) cost more than the rest of a document's bookkeeping. So the
    random part's checksum shares are computed a whole fill at a time (one big-integer
    product, see :meth:`_refill`), the clock's high bytes' shares once per 65 ms, and
    the leading characters (the table number and the clock's high bits) once per table
    per 4 ms: an id's own work is its tail of 100 bits, ten character pairs.
    """

    def __init__(self) -> None:
        self._parts: list[tuple[int, str, int, int, int, bytes]] = []
        self._slots = 0  # the fill's slots, for _short_digits
        self._short: str | None = None  # the fill's 1-byte-table digits, once asked for
        self._next = _IDS_PER_FILL
        self._last = 0
        self._high: tuple[int, int, int] = (-1, 0, 0)
        self._tables: dict[int, _TableIds] = {}
        lock = threading.Lock()
        self._acquire, self._release = lock.acquire, lock.release

    def _refill(self) -> None:
        """Random parts for the next ids, each one's shares of fletcher16's sums, and
        the characters its middle 60 bits make, all by whole-buffer operations.

        Sums: the bytes go into 16-bit lanes of one integer; times
        ``sum(w(t) << 16 * t)`` each lane of the product holds the weighted sum of the
        nine bytes that end there (no lane reaches 2**16, so nothing carries), read at
        each random part's last byte. Characters: each part's bits 8 to 67 (the id's
        characters 14 to 25 of a 2-byte table number, wholly random) go into a 128-bit
        slot, whose 5-bit groups four shift-and-mask steps spread into one byte each,
        which one ``translate`` makes digits. The slots are kept for
        :meth:`_short_digits`."""
        count = _IDS_PER_FILL
        data = os.urandom(count * _RANDOM_BYTES)
        lanes = bytearray(2 * len(data))
        lanes[::2] = data
        wide = int.from_bytes(lanes, "little")
        size = 2 * (len(data) + _RANDOM_BYTES)
        sums, weighted = array("H"), array("H")
        sums.frombytes((wide * _ONES).to_bytes(size, "little"))
        weighted.frombytes((wide * _WEIGHTS).to_bytes(size, "little"))
        if sys.byteorder == "big":
            sums.byteswap()
            weighted.byteswap()
        last = slice(_RANDOM_BYTES - 1, len(data), _RANDOM_BYTES)
        slots = bytearray(16 * count)
        for j in range(_RANDOM_BYTES):
            slots[7 + j :: 16] = data[j::_RANDOM_BYTES]
        self._slots = whole = int.from_bytes(slots, "big")
        self._short = None
        digits = _digits((whole >> 4) & _SLOT_MASK, count)
        self._parts = list(zip(
            data[::_RANDOM_BYTES],
            (digits[i + 4 : i + 16] for i in range(0, len(digits), 16)),
            data[_RANDOM_BYTES - 1 :: _RANDOM_BYTES],
            sums[last],
            weighted[last],
            (data[i : i + _RANDOM_BYTES] for i in range(0, len(data), _RANDOM_BYTES)),
            strict=True,
        ))
        self._next = 0

    def _short_digits(self) -> str:
        """The fill's random parts' bits 6 to 65 as digits (16 places each): characters
        14 to 25 of an id of a 1-byte table number (every system table's, such as the
        session record's in every WebSocket mutation), made once per fill on the first
        such id, from the same slots shifted two bits less."""
        short = self._short
        if short is None:
            short = self._short = _digits((self._slots >> 6) & _SLOT_MASK, _IDS_PER_FILL)
        return short

    def make(self, table_number: int) -> str:
        """A new id of the table, entered in the decode cache (its table and internal
        bytes: a write of it, or its check as an argument, decodes it next)."""
        table = self._tables.get(table_number)
        if table is None:
            table = self._tables[table_number] = _TableIds(table_number)
        # acquire and release, not ``with``: the statement looks up and calls
        # ``__enter__`` and ``__exit__`` (about 600 instructions of ~17,000 an id)
        self._acquire()
        try:
            now = _clock_ns() // 1000
            if now <= self._last:
                now = self._last + 1
            self._last = now
            k = self._next
            if k >= _IDS_PER_FILL:
                self._refill()
                k = 0
            self._next = k + 1
            top, middle, bottom, r0, r1, random = self._parts[k]
            if table.layout == 1:
                middle = self._short_digits()[16 * k + 4 : 16 * k + 16]
        finally:
            self._release()
        high = self._high
        if high[0] != now >> 16:
            high = self._high = _high_shares(now >> 16)
        b5 = (now >> 8) & 255
        b6 = now & 255
        c0 = (table.c0 + high[1] + b5 + b6 + r0) & 255
        c1 = (table.c1 + high[2] + 11 * b5 + 10 * b6 + r1) & 255
        internal = now.to_bytes(_CLOCK_BYTES, "big") + random
        head = table.head
        if head[0] != now >> table.head_shift:
            head = table.new_head(now)
        layout = table.layout
        if layout == 2:  # 2-byte table number: 12 cached characters, 2, 2, 12 random, 2, 2
            p = _PAIRS
            doc_id = "".join((
                head[1], p[(b6 >> 2) | ((b5 & 15) << 6)], p[((b6 & 3) << 8) | top], middle,
                p[((bottom & 15) << 6) | (c0 >> 2)], p[((c0 & 3) << 8) | c1],
            ))
        elif layout == 1:  # 1-byte: 10 cached characters, 2, 2, 12 random, 2, 2, 1
            p = _PAIRS
            doc_id = "".join((
                head[1], p[((b5 & 63) << 4) | (b6 >> 4)], p[((b6 & 15) << 6) | (top >> 2)],
                middle, p[((bottom & 63) << 4) | (c0 >> 4)], p[((c0 & 15) << 6) | (c1 >> 2)],
                ALPHABET[(c1 & 3) << 3],
            ))
        else:
            tail = _b32encode(table.prefix + internal + bytes((c0, c1)))[table.head_chars :]
            doc_id = head[1] + tail
        if len(_decoded) >= _DECODED_MAX:
            _decoded.clear()
        _decoded[doc_id] = (table_number, internal)
        return doc_id


def _digits(x: int, count: int) -> str:
    """The 60-bit slots of ``x`` (one per 128 bits) as twelve digits each, at the end of
    16 places: four shift-and-mask steps spread each 5-bit group into a byte of its own,
    one ``translate`` makes the bytes digits."""
    for width, mask, lane in _SPREAD:
        x = (x & mask) | (((x >> width) & mask) << lane)
    return x.to_bytes(16 * count, "big").translate(_DIGITS).decode()


def _high_shares(high: int) -> tuple[int, int, int]:
    """The clock's five high bytes' shares of fletcher16's sums (weights 16 to 12:
    internal byte ``j`` of 16 counts ``16 - j`` times, whatever the prefix)."""
    data = high.to_bytes(_CLOCK_BYTES - 2, "big")
    return high, sum(data), sum(map(operator.mul, data, (16, 15, 14, 13, 12)))


class _TableIds:
    """One table's share of its ids: the vint prefix, its checksum shares, and the
    cached leading characters (the prefix's bits and the clock's high bits)."""

    __slots__ = (
        "c0",
        "c1",
        "head",
        "head_chars",
        "head_shift",
        "layout",
        "number",
        "prefix",
    )

    def __init__(self, table_number: int) -> None:
        self.number = table_number
        self.prefix, self.c0, self.c1 = _table_prefix(table_number)
        bits = 8 * len(self.prefix) + 8 * (INTERNAL_ID_LEN + 2)
        # Characters whose bits all lie in the prefix and the clock's bits above its
        # lowest 12 (14 for a 1-byte prefix): they change once per 4,096 (16,384)
        # microseconds.
        self.head_chars = (8 * len(self.prefix) + 8 * _CLOCK_BYTES - 12) // 5
        self.head_shift = bits - 5 * self.head_chars - 8 * (INTERNAL_ID_LEN - _CLOCK_BYTES + 2)
        # The prefix's length: ids of 1- and 2-byte table numbers (below 16,384) are
        # made from cached characters; longer prefixes are encoded whole.
        self.layout = len(self.prefix) if len(self.prefix) <= 2 else 0
        self.head = (-1, "")

    def new_head(self, now: int) -> tuple[int, str]:
        """The leading characters of ids made at ``now``, and their key (one tuple:
        threads that make ids see a key and its characters together)."""
        whole = _b32encode(self.prefix + now.to_bytes(_CLOCK_BYTES, "big") + bytes(11))
        head = self.head = (now >> self.head_shift, whole[: self.head_chars])
        return head


_source = _IdSource()

new_table_id = _source.make
"""``new_id`` of a table number taken from a catalog (in range by construction):
the id source's own bound method, without ``new_id``'s check and call (one Python
frame fewer per insert)."""


def new_id(table_number: int) -> str:
    """A new id of table ``table_number`` (:func:`encode_id` of a fresh internal id,
    which is 16 bytes by construction: every insert makes one)."""
    if table_number < 1 or table_number >= 1 << 32:
        raise ValueError(f"table number {table_number} out of range")
    return _source.make(table_number)
