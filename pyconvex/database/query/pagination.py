"""Pagination cursors: opaque strings naming a position in an index.

A cursor is either ``"end"`` (past the last key of the range) or ``"k" + base64url(key)``
meaning "just after this key". Keys identify exactly one document (they end with
``_id``), so a page that starts after a cursor neither repeats nor skips documents, even
when documents are inserted or deleted elsewhere in the range.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from pyconvex.errors import InvalidQueryError

END_CURSOR = "end"


def encode_cursor(key: bytes | None) -> str:
    if key is None:
        return END_CURSOR
    return "k" + base64.urlsafe_b64encode(key).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> bytes | None:
    """The key a cursor points after; None for the end cursor."""
    if cursor == END_CURSOR:
        return None
    if not isinstance(cursor, str) or not cursor.startswith("k"):
        raise InvalidQueryError(f"Invalid pagination cursor {cursor!r}", short_msg="InvalidCursor")
    body = cursor[1:]
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise InvalidQueryError(
            f"Invalid pagination cursor {cursor!r}", short_msg="InvalidCursor"
        ) from None


@dataclass(frozen=True, slots=True)
class PaginationOptions:
    num_items: int
    cursor: str | None
    end_cursor: str | None
    maximum_rows_read: int | None

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
        cursor = opts.get("cursor")
        end_cursor = opts.get("endCursor")
        for name, c in (("cursor", cursor), ("endCursor", end_cursor)):
            if c is not None and not isinstance(c, str):
                raise InvalidQueryError(
                    f"paginate(): {name} must be a string or None, got {c!r}",
                    short_msg="InvalidPagination",
                )
        max_rows = opts.get("maximumRowsRead")
        return PaginationOptions(
            int(num), cursor, end_cursor, int(max_rows) if max_rows is not None else None
        )
