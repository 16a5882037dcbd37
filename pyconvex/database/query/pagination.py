"""Pagination: cursors, options, the query journal, and how one page is cut.

Cursors are opaque strings naming a position in the order of one query:

- ``"end"``: past the last key of the range;
- ``"k" + base64url(fingerprint + key)``: just after ``key``. Keys identify exactly one
  document (they end with ``_id``), so a page that starts after a cursor neither repeats
  nor skips documents, whatever is inserted or deleted elsewhere in the range. The
  4-byte fingerprint names the query (index, range, order): a cursor handed to a
  different query is refused with ``InvalidCursor``, which the official clients answer
  by starting the pagination over.

Live pages (Convex's reactive pagination). The first run of a paginated query records
the page's end cursor in the **query journal**; the sync layer sends the journal to the
client with the result and passes it into every re-run of that subscription (and the
client echoes it in ``Add.journal`` after a reconnect). A run given a journal, or an
explicit ``endCursor``, reads the whole range from its cursor to that end, ignoring
``numItems``: the page grows or shrinks with the data instead of sliding, so the pages a
client holds stay contiguous, without gaps or repeats. A page grown large reports
``pageStatus`` and a ``splitCursor`` (the middle of what it read) so the client can
split it in two bounded pages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import orjson

from pyconvex.database.limits import DEFAULT_LIMITS, Limits
from pyconvex.errors import InvalidQueryError
from pyconvex.values import Document

END_CURSOR = "end"
FINGERPRINT_BYTES = 4
SOFT_MAX_PAGE_LEN = 8192 * 3 // 4
"""A page longer than this reports ``SplitRecommended`` (Convex: 75% of an array's
8,192 elements, the most a function may return in one array)."""


def soft_limit(hard: int) -> int:
    """Convex's "approaching the limit" mark: three quarters of it."""
    return hard * 3 // 4


def fingerprint(*parts: Any) -> bytes:
    """A short digest naming one query, mixed into its cursors."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=FINGERPRINT_BYTES).digest()


def _invalid_cursor(cursor: object, why: str) -> InvalidQueryError:
    shown = cursor if not isinstance(cursor, str) or len(cursor) <= 40 else cursor[:40] + "..."
    return InvalidQueryError(
        f"InvalidCursor: {why} (cursor {shown!r}). Start the pagination again from cursor None.",
        short_msg="InvalidCursor",
    )


def encode_cursor(key: bytes | None, fp: bytes = b"\0" * FINGERPRINT_BYTES) -> str:
    if key is None:
        return END_CURSOR
    return "k" + base64.urlsafe_b64encode(fp + key).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, fp: bytes | None = None) -> bytes | None:
    """The key a cursor points after; None for the end cursor.

    With ``fp``, a cursor made for another query is refused.
    """
    if cursor == END_CURSOR:
        return None
    if not isinstance(cursor, str) or not cursor.startswith("k"):
        raise _invalid_cursor(cursor, "not a pagination cursor")
    body = cursor[1:]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise _invalid_cursor(cursor, "not a pagination cursor") from None
    if len(raw) <= FINGERPRINT_BYTES:
        raise _invalid_cursor(cursor, "not a pagination cursor")
    if fp is not None and raw[:FINGERPRINT_BYTES] != fp:
        raise _invalid_cursor(cursor, "this cursor is from a different query")
    return raw[FINGERPRINT_BYTES:]


@dataclass(frozen=True, slots=True)
class PaginationOptions:
    num_items: int
    cursor: str | None
    end_cursor: str | None
    maximum_rows_read: int | None
    maximum_bytes_read: int | None = None

    @staticmethod
    def parse(opts: Any) -> PaginationOptions:
        if not isinstance(opts, dict):
            raise InvalidQueryError(
                "paginate() expects {'numItems': n, 'cursor': str | None}", short_msg="InvalidPagination"
            )
        num = opts.get("numItems")
        if isinstance(num, bool) or not isinstance(num, (int, float)) or num != int(num) or num <= 0:
            raise InvalidQueryError(
                f"paginate(): numItems must be a positive integer, got {num!r}",
                short_msg="InvalidPagination",
            )
        if num > DEFAULT_LIMITS.max_documents_read:
            raise InvalidQueryError(
                f"paginate(): numItems {int(num)} is more than one function may read "
                f"({DEFAULT_LIMITS.max_documents_read})",
                short_msg="PageSizeTooLarge",
            )
        cursor = opts.get("cursor")
        end_cursor = opts.get("endCursor")
        for name, c in (("cursor", cursor), ("endCursor", end_cursor)):
            if c is not None and not isinstance(c, str):
                raise InvalidQueryError(
                    f"paginate(): {name} must be a string or None, got {c!r}",
                    short_msg="InvalidPagination",
                )
        limits: list[int | None] = []
        for name in ("maximumRowsRead", "maximumBytesRead"):
            value = opts.get(name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float))
                or value != int(value) or value <= 0
            ):
                raise InvalidQueryError(
                    f"paginate(): {name} must be a positive integer, got {value!r}",
                    short_msg="InvalidPaginationLimit",
                )
            limits.append(int(value) if value is not None else None)
        return PaginationOptions(int(num), cursor, end_cursor, limits[0], limits[1])


# ------------------------------------------------------------------ the journal
class QueryJournal:
    """What one query execution decided that its re-runs must decide the same way.

    ``previous`` is the journal the execution was given (the client's, or the last
    run's); ``end_cursor`` is what this execution's ``paginate`` recorded. Re-running
    with the journal this produces, at the same timestamp, gives the same page and the
    same journal (Convex's invariant).
    """

    __slots__ = ("end_cursor", "paginated", "previous")

    def __init__(self, previous: str | None) -> None:
        self.previous = previous
        self.end_cursor: str | None = None
        self.paginated = False

    def previous_end(self) -> str | None:
        if self.previous is None:
            return None
        try:
            parsed = orjson.loads(self.previous)
        except orjson.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("endCursor"), (str, type(None))):
            raise _invalid_cursor(self.previous, "the query journal is not one this server wrote")
        end = parsed.get("endCursor")
        return end if isinstance(end, str) else None

    def record(self, end_cursor: str) -> None:
        if self.paginated:
            raise InvalidQueryError(
                "This query ran paginate() twice. A query function may run only one "
                "paginated database query.",
                short_msg="MultiplePaginatedDatabaseQueries",
            )
        self.paginated = True
        self.end_cursor = end_cursor

    def serialize(self) -> str | None:
        """The journal for the wire (``None`` when nothing was recorded)."""
        if self.end_cursor is None:
            return None
        return orjson.dumps({"endCursor": self.end_cursor}).decode()


current_journal: ContextVar[QueryJournal | None] = ContextVar("pyconvex_query_journal", default=None)
"""The journal of the query execution in progress (set by ``FunctionRunner.run_query``);
``None`` outside queries (mutations, one-off reads), where pages are not pinned."""


# ---------------------------------------------------------------- cutting a page
@dataclass(slots=True)
class PageBounds:
    """Where a page starts and (when pinned) ends, decoded for one query."""

    start: bytes | None
    """The key the page starts after (None: the start of the range)."""
    at_end: bool
    """The start cursor is the end cursor: the page is empty."""
    end: bytes | None
    """The key the page ends at, inclusive (None: unbounded or the end of the range)."""
    end_cursor: str | None
    """The pinning end cursor as given (explicit ``endCursor`` or the journal's)."""


def page_bounds(options: PaginationOptions, fp: bytes) -> PageBounds:
    """Decode the start and end of a page; the end comes from ``endCursor``, or else
    from the journal of the running query."""
    end_cursor = options.end_cursor
    if end_cursor is None:
        journal = current_journal.get()
        if journal is not None:
            end_cursor = journal.previous_end()
    start: bytes | None = None
    at_end = False
    if options.cursor is not None:
        start = decode_cursor(options.cursor, fp)
        at_end = start is None
    end = decode_cursor(end_cursor, fp) if end_cursor is not None else None
    return PageBounds(start, at_end, end, end_cursor)


async def cut_page(
    rows: AsyncIterator[tuple[bytes, Document]],
    matches: Callable[[Document], bool],
    options: PaginationOptions,
    bounds: PageBounds,
    fp: bytes,
    bytes_read: Callable[[], int],
    limits: Limits | None,
    *,
    splittable: bool = True,
) -> dict[str, Any]:
    """Read one page from ``rows`` (already restricted to the page's key range).

    Pinned (an end cursor): everything up to the end, whatever ``numItems`` says, and
    ``maximumRowsRead``/``maximumBytesRead`` do not apply (the page must stay whole).
    Unpinned: up to ``numItems`` matches; stopping at a read limit first reports
    ``SplitRequired``. ``splitCursor`` is the middle of the rows read (more than two).
    """
    pinned = bounds.end_cursor is not None
    page: list[Document] = []
    keys: list[bytes] = []
    status: str | None = None
    stopped = False
    first_bytes = bytes_read()
    max_rows = None if pinned else options.maximum_rows_read
    max_bytes = None if pinned else options.maximum_bytes_read
    try:
        async for key, doc in rows:
            keys.append(key)
            if matches(doc):
                page.append(doc)
            if not pinned and len(page) >= options.num_items:
                stopped = True
                break
            if (max_rows is not None and len(keys) >= max_rows) or (
                max_bytes is not None and bytes_read() - first_bytes >= max_bytes
            ):
                stopped, status = True, "SplitRequired"
                break
    finally:
        aclose = getattr(rows, "aclose", None)
        if aclose is not None:
            await aclose()
    tx = limits or DEFAULT_LIMITS
    soft_rows = soft_limit(min(options.maximum_rows_read or tx.max_documents_read, tx.max_documents_read))
    soft_bytes = soft_limit(min(options.maximum_bytes_read or tx.max_bytes_read, tx.max_bytes_read))
    if status is None and (
        len(keys) > soft_rows or bytes_read() - first_bytes > soft_bytes or len(page) > SOFT_MAX_PAGE_LEN
    ):
        status = "SplitRecommended"
    if pinned:
        assert bounds.end_cursor is not None
        cursor = bounds.end_cursor
    elif stopped:
        cursor = encode_cursor(keys[-1], fp)
    else:
        cursor = END_CURSOR
    split = encode_cursor(keys[len(keys) // 2], fp) if splittable and len(keys) > 2 else None
    return finish_page(page, cursor, split, status)


def finish_page(
    page: list[Document], cursor: str, split: str | None = None, status: str | None = None
) -> dict[str, Any]:
    """The result object, after recording the page's end in the running query's journal."""
    journal = current_journal.get()
    if journal is not None:
        journal.record(cursor)
    return {
        "page": page,
        "isDone": cursor == END_CURSOR,
        "continueCursor": cursor,
        "splitCursor": split,
        "pageStatus": status,
    }
