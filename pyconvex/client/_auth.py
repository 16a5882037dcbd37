"""Signing a client in through pyconvex.auth (or Convex Auth): tokens kept and refreshed.

``await client.sign_in("password", {"email", "password", "flow": "signIn"})`` calls
``auth:signIn``; with tokens in the answer the client authenticates with the access
token and, shortly before it expires, exchanges the refresh token for a new pair by
itself (``auth:signIn`` with ``refreshToken``), as ``@convex-dev/auth``'s React client
does. ``sign_out()`` calls ``auth:signOut`` and forgets the tokens.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("pyconvex.client")
SIGN_IN = "auth:signIn"
SIGN_OUT = "auth:signOut"
#: Refresh this long before expiry (or a quarter of a short token's life).
REFRESH_MARGIN_S = 60.0

Action = Callable[[str, dict[str, Any]], Awaitable[Any]]


def token_times(token: str) -> tuple[float, float]:
    """``(iat, exp)`` of a JWT, read without verifying it (only to plan the refresh)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = float(claims["exp"])
        return float(claims.get("iat", exp - 3600)), exp
    except (IndexError, KeyError, TypeError, ValueError):
        now = time.time()
        return now, now + 3600


class TokenKeeper:
    """The tokens of one client and the task that refreshes them."""

    def __init__(
        self, action: Action, set_auth: Callable[[str], None], clear_auth: Callable[[], None]
    ) -> None:
        self._action = action
        self._set_auth = set_auth
        self._clear_auth = clear_auth
        self.tokens: dict[str, str] | None = None
        self._task: asyncio.Task[None] | None = None

    async def sign_in(self, provider: str | None, params: dict[str, Any] | None,
                      verifier: str | None = None) -> dict[str, Any]:
        args: dict[str, Any] = {"params": params or {}}
        if provider is not None:
            args["provider"] = provider
        if verifier is not None:
            args["verifier"] = verifier
        result: dict[str, Any] = await self._action(SIGN_IN, args)
        if "tokens" in result:
            self._use(result["tokens"])
        return result

    async def sign_out(self) -> None:
        try:
            await self._action(SIGN_OUT, {})
        finally:
            self._use(None)

    async def refresh(self) -> bool:
        """Exchange the refresh token now; False (and signed out) if the session ended."""
        if self.tokens is None:
            return False
        result = await self._action(SIGN_IN, {"refreshToken": self.tokens["refreshToken"]})
        self._use(result.get("tokens"))
        return self.tokens is not None

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def _use(self, tokens: dict[str, str] | None) -> None:
        self.close()
        self.tokens = tokens
        if tokens is None:
            self._clear_auth()
            return
        self._set_auth(tokens["token"])
        self._task = asyncio.get_running_loop().create_task(self._refresh_later(tokens["token"]))

    async def _refresh_later(self, token: str) -> None:
        iat, exp = token_times(token)
        margin = min(REFRESH_MARGIN_S, max(0.0, (exp - iat) / 4))
        await asyncio.sleep(max(0.0, exp - margin - time.time()))
        self._task = None  # refresh() replaces it; do not cancel ourselves
        with contextlib.suppress(asyncio.CancelledError):
            try:
                await self.refresh()
            except Exception as e:  # a network hiccup: try again shortly, as the React client does
                log.warning("pyconvex.client: refreshing the auth token failed: %s", e)
                if self.tokens is not None and self._task is None:
                    await asyncio.sleep(2.0)
                    self._use(self.tokens)
