"""An identity on a live socket ends when its token does.

A WebSocket authenticates once, but a token carries an expiry (``exp``); HTTP refuses a
token past it (plus the verifier's leeway), so the sync path must too. When a socket's
token expires the server sends ``AuthError`` with ``authUpdateAttempted: false`` (the
client did not just send a token: its current one ran out) and closes the socket; the
official clients answer by fetching a fresh token and reconnecting with it, and their
queries resume under it. A mutation or action that reaches the server under an expired
identity before that is refused with ``TokenExpired``, never run as the expired user.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

import orjson

from pyconvex.auth.jwt import LEEWAY_S
from pyconvex.errors import AuthError


class TokenExpired(AuthError):
    short_msg = "TokenExpired"


def token_expiry(token: str) -> float | None:
    """The instant (seconds since the epoch) after which a verified ``token`` is refused:
    its ``exp`` plus the verifier's leeway. None when it names no expiry."""
    try:
        payload = token.split(".")[1]
        claims: Any = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error, orjson.JSONDecodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return None
    return float(exp) + LEEWAY_S


def check_not_expired(expires_at: float | None) -> None:
    """Raise :class:`TokenExpired` if an identity valid until ``expires_at`` has ended."""
    if expires_at is not None and time.time() >= expires_at:
        raise TokenExpired(
            "TokenExpired: the auth token of this connection has expired; the client must "
            "authenticate again with a fresh token."
        )
