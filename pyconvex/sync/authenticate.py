"""Who an Authenticate message makes a sync connection: its identity, and until when.

Kept apart from the session's state machine (``session.py``): a pure check of the
message's credentials (the admin key, or a user token through the deployment's
verifier); the session applies the result, or answers AuthError and closes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from pyconvex.auth.admin_key import admin_key_matches
from pyconvex.errors import AuthError
from pyconvex.protocol import messages as wire
from pyconvex.sync.expiry import token_expiry

VerifyToken = Callable[[str], Awaitable[dict[str, Any]]]


class Credentials(NamedTuple):
    identity: dict[str, Any] | None
    is_admin: bool
    token: str | None  # the user token (ctx.meta), None for none or the admin key
    expires_at: float | None  # the token ends then (expiry.py)


async def credentials_of(
    msg: wire.Authenticate, admin_key: str | None, verify_token: VerifyToken | None
) -> Credentials:
    """The identity ``msg`` proves; raises :class:`AuthError` if it proves none."""
    token_type = msg["tokenType"]
    if token_type == "None":
        return Credentials(None, False, None, None)
    if token_type == "Admin":
        if not admin_key_matches(msg.get("value"), admin_key):
            raise AuthError("The admin key is not valid for this deployment.")
        return Credentials(msg.get("impersonating"), True, None, None)
    if verify_token is None:
        raise AuthError(
            "No auth provider found matching the given token: this deployment "
            "has no convex/auth_config.py providers."
        )
    token = str(msg.get("value"))
    return Credentials(await verify_token(token), False, token, token_expiry(token))


class CloseAfterAuthError(Exception):
    """The connection closes after an AuthError (the client reconnects)."""


TOKEN_EXPIRED = (
    "TokenExpired: the auth token of this connection has expired; authenticate again "
    "with a fresh token."
)


def auth_error(message: str, base_version: int, attempted: bool) -> wire.AuthErrorMessage:
    """The AuthError a session sends before it closes: ``attempted`` when it answers an
    Authenticate (the client's update failed), not when its token ran out."""
    return {"type": "AuthError", "error": message, "baseVersion": base_version,
            "authUpdateAttempted": attempted}
