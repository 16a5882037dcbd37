"""Sessions and rotating refresh tokens, inside the ``auth:store`` mutation.

A session is an ``authSessions`` document; a client holds an access token (a JWT naming
``userId|sessionId``, valid an hour) and a refresh token ``"<refreshTokenId>|<sessionId>"``.
Refreshing exchanges a refresh token for a new pair and marks the old one used:

* a token's first use creates a child token (its ``parentRefreshTokenId``);
* using the parent of the active (newest unused) token again hands out that active
  token once more: two tabs refreshing at once both stay signed in;
* other reuse within 10 s (a retried request) creates another child;
* any later reuse means the token was copied: the whole session ends, every refresh
  token of it goes, and whoever holds the stolen pair must sign in again.

Everything here runs inside one mutation, so a failure leaves no half-made session.
"""

from __future__ import annotations

from typing import Any

from pyconvex.auth.library.keys import SUBJECT_DIVIDER, sign_access_token
from pyconvex.auth.library.providers import maybe_await
from pyconvex.auth.library.settings import AuthConfig
from pyconvex.auth.library.tables import REFRESH_TOKENS, SESSIONS

REFRESH_TOKEN_DIVIDER = "|"
REFRESH_TOKEN_REUSE_WINDOW_MS = 10_000


async def _session_ids(ctx: Any) -> tuple[str, str] | None:
    """``(userId, sessionId)`` of the caller's token, if its session is still live.

    Where the ctx has a database (queries, mutations), the session document is read:
    a signed-out or revoked session stops counting at once, not when its access token
    expires, and the read makes live queries re-run on sign-out. Actions, which have
    no database, trust the token (it lives an hour at most).
    """
    identity = await ctx.auth.get_user_identity()
    if identity is None:
        return None
    user_id, _, session_id = str(identity["subject"]).partition(SUBJECT_DIVIDER)
    if not user_id or not session_id:
        return None
    db = getattr(ctx, "db", None)
    if db is not None:
        session = await _get(ctx, SESSIONS, session_id)
        if session is None or session["userId"] != user_id or session["expirationTime"] < ctx.now():
            return None
    return user_id, session_id


async def get_auth_user_id(ctx: Any) -> str | None:
    """The signed-in user's ``users`` id, or None (queries, mutations and actions)."""
    ids = await _session_ids(ctx)
    return ids[0] if ids is not None else None


async def get_auth_session_id(ctx: Any) -> str | None:
    """The current ``authSessions`` id, or None when signed out (or not by pyconvex.auth)."""
    ids = await _session_ids(ctx)
    return ids[1] if ids is not None else None


async def _get(ctx: Any, table: str, doc_id: str | None) -> dict[str, Any] | None:
    """The document, or None when ``doc_id`` is missing or not an id of ``table``."""
    if not isinstance(doc_id, str):
        return None
    normalized = ctx.db.normalize_id(table, doc_id)
    if normalized is None:
        return None
    doc: dict[str, Any] | None = await ctx.db.get(normalized)
    return doc


async def create_session(ctx: Any, config: AuthConfig, user_id: str) -> str:
    if config.callbacks.before_session_creation is not None:
        await maybe_await(config.callbacks.before_session_creation(ctx, {"userId": user_id}))
    session_id: str = await ctx.db.insert(SESSIONS, {
        "userId": user_id, "expirationTime": ctx.now() + config.session_total_ms(),
    })
    return session_id


async def replace_current_session(ctx: Any, config: AuthConfig, user_id: str) -> str:
    """A new session for ``user_id``; the caller's current session (if any) ends."""
    current = await _get(ctx, SESSIONS, await get_auth_session_id(ctx))
    if current is not None:
        await delete_session(ctx, current["_id"])
    return await create_session(ctx, config, user_id)


async def delete_session(ctx: Any, session_id: str) -> None:
    session = await _get(ctx, SESSIONS, session_id)
    if session is not None:
        await ctx.db.delete(session["_id"])
    for token in await ctx.db.query(REFRESH_TOKENS).with_index(
        "sessionId", lambda q: q.eq("sessionId", session_id)
    ).collect():
        await ctx.db.delete(token["_id"])


async def session_info(
    ctx: Any, config: AuthConfig, user_id: str, session_id: str, generate_tokens: bool
) -> dict[str, Any]:
    tokens = None
    if generate_tokens:
        tokens = await tokens_for_session(ctx, config, user_id, session_id, issued=None, parent=None)
    return {"userId": user_id, "sessionId": session_id, "tokens": tokens}


async def tokens_for_session(
    ctx: Any, config: AuthConfig, user_id: str, session_id: str, *, issued: str | None, parent: str | None
) -> dict[str, str]:
    """A fresh access token plus the refresh token ``issued`` (or a new child of ``parent``)."""
    refresh_id = issued
    if refresh_id is None:
        fields: dict[str, Any] = {
            "sessionId": session_id, "expirationTime": ctx.now() + config.session_inactive_ms(),
        }
        if parent is not None:
            fields["parentRefreshTokenId"] = parent
        refresh_id = await ctx.db.insert(REFRESH_TOKENS, fields)
    extra = None
    if config.custom_claims is not None:
        claims = config.custom_claims(ctx, {"userId": user_id, "sessionId": session_id})
        extra = dict(await maybe_await(claims))
        reserved = {"sub", "iss", "aud", "iat", "exp", "nbf", "jti"} & extra.keys()
        if reserved:
            raise ValueError(f"custom_claims may not set the reserved claim(s) {sorted(reserved)}.")
    token = sign_access_token(user_id, session_id, ctx.now(), config.jwt_ms(), extra)
    return {"token": token, "refreshToken": f"{refresh_id}{REFRESH_TOKEN_DIVIDER}{session_id}"}


async def refresh_session(ctx: Any, config: AuthConfig, refresh_token: str) -> dict[str, str] | None:
    """New tokens for a refresh token, or None (and the session ended) when it is no good."""
    token_id, _, session_id = refresh_token.partition(REFRESH_TOKEN_DIVIDER)
    if not token_id or not session_id:
        return None
    now = ctx.now()
    token = await _get(ctx, REFRESH_TOKENS, token_id)
    session = await _get(ctx, SESSIONS, session_id)
    valid = (
        token is not None and session is not None and token["sessionId"] == session["_id"]
        and token["expirationTime"] >= now and session["expirationTime"] >= now
    )
    if not valid or token is None or session is None:
        if session is not None or (ctx.db.normalize_id(SESSIONS, session_id) is not None):
            await delete_session(ctx, session_id)
        return None
    first_used = token.get("firstUsedTime")
    user_id = session["userId"]
    if first_used is None:
        await ctx.db.patch(token["_id"], {"firstUsedTime": now})
        return await tokens_for_session(
            ctx, config, user_id, session["_id"], issued=None, parent=token["_id"])
    active = await _active_refresh_token(ctx, session["_id"])
    if active is not None and active.get("parentRefreshTokenId") == token["_id"]:
        return await tokens_for_session(ctx, config, user_id, session["_id"], issued=active["_id"],
                                        parent=token["_id"])
    if first_used + REFRESH_TOKEN_REUSE_WINDOW_MS > now:
        return await tokens_for_session(
            ctx, config, user_id, session["_id"], issued=None, parent=token["_id"])
    print("pyconvex.auth: a refresh token was reused outside the reuse window; ending its session")
    await delete_session(ctx, session["_id"])
    return None


async def _active_refresh_token(ctx: Any, session_id: str) -> dict[str, Any] | None:
    tokens = await ctx.db.query(REFRESH_TOKENS).with_index(
        "sessionId", lambda q: q.eq("sessionId", session_id)
    ).order("desc").collect()
    return next((t for t in tokens if t.get("firstUsedTime") is None), None)


async def invalidate_sessions(ctx: Any, user_id: str, except_: list[str] | None = None) -> None:
    keep = set(except_ or [])
    for session in await ctx.db.query(SESSIONS).with_index(
        "userId", lambda q: q.eq("userId", user_id)
    ).collect():
        if session["_id"] not in keep:
            await delete_session(ctx, session["_id"])
