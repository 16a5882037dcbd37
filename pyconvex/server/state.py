"""What the server shares across requests: the deployment and the sync machinery."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import orjson

from pyconvex.auth import TokenVerifier
from pyconvex.deployment import Deployment
from pyconvex.errors import AuthError
from pyconvex.server.log_buffer import LogBuffer
from pyconvex.sync import SubscriptionManager, VerifyToken, format_function_error
from pyconvex.sync.requests import SessionRequestCollector


@dataclass
class ServerState:
    deployment: Deployment
    admin_key: str | None = None
    verify_token: VerifyToken | None = None
    manager: SubscriptionManager | None = None
    logs: LogBuffer | None = None
    request_collector: SessionRequestCollector | None = None
    _unlisten: list[Any] = field(default_factory=list)
    _verifier: tuple[Any, TokenVerifier | None] = (None, None)

    async def verify(self, token: str) -> dict[str, Any]:
        """Verify a user token against the providers of the loaded ``auth_config.py``."""
        if self.verify_token is not None:
            return await self.verify_token(token)
        providers = self.deployment.registry.auth_config
        if self._verifier[0] is not providers:  # (re)loaded code: rebuild
            if self._verifier[1] is not None:
                await self._verifier[1].aclose()
            self._verifier = (providers, TokenVerifier(providers) if providers else None)
        verifier = self._verifier[1]
        if verifier is None:
            raise AuthError(
                "No auth provider found matching the given token: this deployment has no "
                "convex/auth_config.py providers.",
                short_msg="NoAuthProvider",
            )
        return await verifier.verify(token)

    def ensure_started(self) -> SubscriptionManager:
        """Start the subscription manager on first use (works without ASGI lifespan)."""
        if self.manager is None:
            self.manager = SubscriptionManager(
                self.deployment.db, self.deployment.runner, format_function_error
            )
            self.manager.start()
            self.deployment.start_background()
            self.request_collector = SessionRequestCollector(self.deployment.db)
            self.request_collector.start()
            self._unlisten.append(self.deployment.add_change_listener(self.manager.invalidate_all))
            self.logs = LogBuffer()
            runner = self.deployment.runner
            runner.listeners.append(self.logs.append)
            self._unlisten.append(lambda: runner.listeners.remove(self.logs.append))
        return self.manager

    async def stop(self) -> None:
        for undo in self._unlisten:
            undo()
        self._unlisten.clear()
        if self.request_collector is not None:
            await self.request_collector.stop()
            self.request_collector = None
        if self._verifier[1] is not None:
            await self._verifier[1].aclose()
            self._verifier = (None, None)
        if self.manager is not None:
            await self.manager.stop()
            self.manager = None

    async def authenticate(self, header: str | None, admin_param: str | None = None) -> tuple[Any, bool]:
        """``(identity, is_admin)`` from an ``Authorization`` header; AuthError if bad."""
        if admin_param:
            header = f"Convex {admin_param}"
        if not header:
            return None, False
        scheme, _, value = header.partition(" ")
        if scheme == "Bearer":
            return await self.verify(value.strip()), False
        if scheme == "Convex":
            key, _, acting_as = value.strip().partition(":")
            if self.admin_key is None or key != self.admin_key:
                raise AuthError("The admin key is not valid for this deployment.", short_msg="BadAdminKey")
            identity = None
            if acting_as:
                try:
                    identity = orjson.loads(base64.b64decode(acting_as))
                except (binascii.Error, ValueError, orjson.JSONDecodeError):
                    raise AuthError("Malformed acting-as identity in the admin header.",
                                    short_msg="InvalidAuthHeader") from None
            return identity, True
        raise AuthError(f"Unsupported Authorization scheme {scheme!r}: use Bearer.",
                        short_msg="InvalidAuthHeader")
