"""What the server shares across requests: the deployment and the sync machinery."""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import orjson

from pyconvex.auth import TokenVerifier
from pyconvex.auth.admin_key import admin_key_matches
from pyconvex.deployment import Deployment
from pyconvex.errors import AuthError
from pyconvex.server.client_address import Network
from pyconvex.server.log_buffer import LogBuffer
from pyconvex.server.log_streams import LogStreams, SinkConfig
from pyconvex.server.metrics import Metrics
from pyconvex.sync import SubscriptionManager, VerifyToken, format_function_error
from pyconvex.sync.requests import SessionRequestCollector

ANONYMOUS: tuple[Any, bool] = (None, False)
"""What a request without an ``Authorization`` header is: no identity, not admin."""


@dataclass
class ServerState:
    deployment: Deployment
    admin_key: str | None = None
    verify_token: VerifyToken | None = None
    manager: SubscriptionManager | None = None
    logs: LogBuffer | None = None
    request_collector: SessionRequestCollector | None = None
    log_stream_configs: list[SinkConfig] = field(default_factory=list)
    """Sinks this process adds to the deployment's own (``serve --log-stream``)."""
    log_streams: LogStreams | None = None
    metrics: Metrics | None = None
    public_metrics: bool = False
    trusted_proxies: tuple[Network, ...] = ()
    """Proxies whose X-Forwarded-For names the client (server/client_address.py)."""
    ws_sessions: int = 0
    _streams_started: Any = None
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

    def stopping(self) -> None:
        """The server has stopped accepting connections and waits for open requests:
        end the long polls now."""
        if self.logs is not None:
            self.logs.release_waiters()

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
            self.logs.attach(runner.journal)  # the runner's records, in batches
            self._unlisten.append(self.logs.detach)
            self._start_observability()
        return self.manager

    def _start_observability(self) -> None:
        """Metrics and log streams: consumers of the runner's journal (its records in
        batches, ``functions/runtime/journal.py``), and a commit observer."""
        runner, db = self.deployment.runner, self.deployment.db
        metrics = self.metrics = Metrics(self)
        metrics.attach(runner.journal)
        db.commit_observers.append(metrics.on_commit)
        streams = self.log_streams = LogStreams(db, self.log_stream_configs)
        streams.attach(runner.journal)
        self._streams_started = asyncio.get_running_loop().create_task(streams.start())
        self._unlisten.append(metrics.detach)
        self._unlisten.append(lambda: db.commit_observers.remove(metrics.on_commit))
        self._unlisten.append(streams.detach)

    async def streams(self) -> LogStreams:
        """The log streams, once their stored configuration is loaded."""
        self.ensure_started()
        assert self.log_streams is not None
        await self._streams_started
        return self.log_streams

    async def stop(self) -> None:
        for undo in self._unlisten:
            undo()
        self._unlisten.clear()
        if self.log_streams is not None:
            await self._streams_started
            await self.log_streams.stop()
            self.log_streams = None
        if self.request_collector is not None:
            await self.request_collector.stop()
            self.request_collector = None
        if self._verifier[1] is not None:
            await self._verifier[1].aclose()
            self._verifier = (None, None)
        if self.manager is not None:
            await self.manager.stop()
            self.manager = None

    async def authenticate(self, header: str | None) -> tuple[Any, bool]:
        """``(identity, is_admin)`` from an ``Authorization`` header; AuthError if bad.
        Without a header it is :data:`ANONYMOUS` (callers on a hot path may take that
        without awaiting this)."""
        if not header:
            return ANONYMOUS
        scheme, _, value = header.partition(" ")
        if scheme == "Bearer":
            return await self.verify(value.strip()), False
        if scheme == "Convex":
            key, _, acting_as = value.strip().partition(":")
            if not admin_key_matches(key, self.admin_key):
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
