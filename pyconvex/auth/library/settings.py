"""``convex_auth``'s options, resolved once: providers by id, durations, callbacks."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyconvex.auth.library.providers import Provider
from pyconvex.errors import ConvexError

DEFAULT_JWT_DURATION_MS = 60 * 60 * 1000
DEFAULT_SESSION_TOTAL_DURATION_MS = 30 * 24 * 3600 * 1000
DEFAULT_SESSION_INACTIVE_DURATION_MS = 30 * 24 * 3600 * 1000
DEFAULT_MAX_FAILED_ATTEMPTS_PER_HOUR = 10
DEFAULT_MAX_FAILED_ATTEMPTS_PER_IP_PER_HOUR = 100


@dataclass
class Callbacks:
    """Hooks into account and session handling (Convex Auth's ``callbacks``).

    * ``create_or_update_user(ctx, args) -> user id`` replaces the default user creation
      and linking; ``args`` has ``existingUserId``, ``type``, ``provider``, ``profile``,
      ``shouldLinkViaEmail``, ``shouldLinkViaPhone``. Runs in the ``auth:store`` mutation.
    * ``after_user_created_or_updated(ctx, args)`` runs after the default one, in the same
      mutation, with ``userId`` added (write your own tables here).
    * ``redirect({"redirectTo": ...}) -> absolute URL`` decides where OAuth and magic links
      return; the default allows only ``SITE_URL`` and paths under it.
    * ``before_session_creation(ctx, {"userId": ...})`` may raise to refuse a sign-in.
    """

    create_or_update_user: Callable[[Any, dict[str, Any]], Any] | None = None
    after_user_created_or_updated: Callable[[Any, dict[str, Any]], Any] | None = None
    redirect: Callable[[dict[str, Any]], Any] | None = None
    before_session_creation: Callable[[Any, dict[str, Any]], Any] | None = None


@dataclass
class AuthConfig:
    providers: list[Provider]
    callbacks: Callbacks = field(default_factory=Callbacks)
    jwt_duration_ms: float | None = None
    custom_claims: Callable[[Any, dict[str, Any]], Any] | None = None
    session_total_duration_ms: float | None = None
    session_inactive_duration_ms: float | None = None
    max_failed_attempts_per_hour: int = DEFAULT_MAX_FAILED_ATTEMPTS_PER_HOUR
    max_failed_attempts_per_ip_per_hour: int | None = DEFAULT_MAX_FAILED_ATTEMPTS_PER_IP_PER_HOUR
    extra_providers: list[Provider] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("max_failed_attempts_per_hour", "max_failed_attempts_per_ip_per_hour"):
            value = getattr(self, name)
            if value is None and name.endswith("_ip_per_hour"):
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"convex_auth({name}=...) must be a whole number of attempts, "
                                 f"at least 1, got {value!r}" + (" (None turns it off)" if
                                                                 name.endswith("_ip_per_hour") else ""))
        if isinstance(self.providers, (str, bytes)) or not isinstance(self.providers, Sequence):
            raise TypeError("convex_auth(providers=...) must be a list of providers.")
        seen: set[str] = set()
        for index, provider in enumerate(self.providers):
            if not isinstance(provider, Provider):
                raise TypeError(
                    f"convex_auth providers[{index}] is a {type(provider).__name__}, not a provider "
                    "(Password(), Anonymous(), Email(...), OAuth/OIDC providers)."
                )
            if provider.id in seen:
                raise ValueError(
                    f"convex_auth: two providers have the id {provider.id!r}; give one another id=.")
            seen.add(provider.id)
        extra: list[Provider] = []
        for provider in self.providers:
            extra.extend(p for p in provider.extra_providers() if p.id not in seen)
        self.extra_providers = extra

    @property
    def has_oauth(self) -> bool:
        return any(p.type in ("oauth", "oidc") for p in self.providers)

    def provider(self, provider_id: str, allow_extra: bool = False) -> Provider:
        """The provider with this id, or a ConvexError listing the configured ones."""
        for p in self.providers:
            if p.id == provider_id:
                return p
        if allow_extra:
            for p in self.extra_providers:
                if p.id == provider_id:
                    return p
        available = ", ".join(f"`{p.id}`" for p in self.providers) or "none"
        raise ConvexError(f"Provider `{provider_id}` is not configured, available providers are {available}.")

    def provider_or_none(self, provider_id: str, allow_extra: bool = False) -> Provider | None:
        try:
            return self.provider(provider_id, allow_extra)
        except ConvexError:
            return None

    def jwt_ms(self) -> float:
        return self.jwt_duration_ms or DEFAULT_JWT_DURATION_MS

    def session_total_ms(self) -> float:
        return (self.session_total_duration_ms
                or _env_ms("AUTH_SESSION_TOTAL_DURATION_MS") or DEFAULT_SESSION_TOTAL_DURATION_MS)

    def session_inactive_ms(self) -> float:
        return (self.session_inactive_duration_ms
                or _env_ms("AUTH_SESSION_INACTIVE_DURATION_MS") or DEFAULT_SESSION_INACTIVE_DURATION_MS)


def _env_ms(name: str) -> float | None:
    value = os.environ.get(name)
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise ConvexError(
            f"Environment variable {name} must be a number of milliseconds, got {value!r}.") from None
