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
import threading
import time
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


_clock_ns = time.time_ns
"""The real clock, taken at import: inside a function ``time.time_ns`` is the
deterministic stand-in (``functions/runtime/determinism.py``), which reads a context
variable first and gives the function's frozen start time, not the time now."""


class _IdSource:
    """os.urandom in bulk (one system call per 256 ids) behind the increasing clock."""

    def __init__(self, ids_per_fill: int = 256) -> None:
        self._size = ids_per_fill * _RANDOM_BYTES
        self._buf = b""
        self._pos = 0
        self._last = 0
        self._lock = threading.Lock()

    def take(self) -> bytes:
        with self._lock:
            now = _clock_ns() // 1000
            if now <= self._last:
                now = self._last + 1
            self._last = now
            if self._pos >= len(self._buf):
                self._buf = os.urandom(self._size)
                self._pos = 0
            random_part = self._buf[self._pos : self._pos + _RANDOM_BYTES]
            self._pos += _RANDOM_BYTES
        return now.to_bytes(_CLOCK_BYTES, "big") + random_part


_source = _IdSource()


def new_id(table_number: int) -> str:
    """A new id of table ``table_number`` (:func:`encode_id` of a fresh internal id,
    which is 16 bytes by construction: every insert makes one)."""
    if table_number < 1 or table_number >= 1 << 32:
        raise ValueError(f"table number {table_number} out of range")
    internal = _source.take()
    doc_id = _encode(table_number, internal)
    _remember(doc_id, (table_number, internal))  # its schema check decodes it next
    return doc_id
