"""Provider configurations: what each kind of sign-in needs, as plain objects.

``convex_auth(providers=[...])`` takes instances of these. Each has an ``id`` (the name
clients pass to ``signIn(id, params)``, and the ``provider`` field of its accounts) and a
``type`` that decides how ``auth:signIn`` treats it, as in Convex Auth:

* ``"credentials"`` (:class:`ConvexCredentials`, and :class:`~.password.Password`,
  :class:`Anonymous` built on it): ``authorize(params, ctx)`` checks the parameters and
  returns ``{"userId": ...}`` or None;
* ``"email"`` / ``"phone"`` (:class:`Email`, :class:`Phone`): a one-time code is created,
  sent through ``send_verification_request``, and later exchanged for a session;
* ``"oauth"`` / ``"oidc"``: see :mod:`pyconvex.auth.library.oauth`.

Callables may be plain or ``async`` functions; both are awaited where needed.
"""

from __future__ import annotations

import inspect
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

T = TypeVar("T")

ProviderType = Literal["credentials", "email", "phone", "oauth", "oidc"]
CODE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
DEFAULT_CODE_MAX_AGE_S = 24 * 3600


async def maybe_await(value: T | Awaitable[T]) -> T:
    """``value``, awaited if a callback handed back an awaitable."""
    if inspect.isawaitable(value):
        return await value
    return value


def random_string(length: int, alphabet: str = CODE_ALPHABET) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass
class Crypto:
    """How a credentials provider stores secrets: ``hash_secret(secret) -> str`` and
    ``verify_secret(secret, hash) -> bool``. Both run in the ``auth:signIn`` action, never
    inside a mutation, so a slow hash holds no transaction open."""

    hash_secret: Callable[[str], str | Awaitable[str]]
    verify_secret: Callable[[str, str], bool | Awaitable[bool]]


@dataclass
class Provider:
    """Base of every provider: an ``id`` and a ``type``."""

    id: str
    type: ProviderType = field(init=False, default="credentials")

    def extra_providers(self) -> list[Provider]:
        """Providers only reachable through this one (a password reset's email code)."""
        return []


Authorize = Callable[[dict[str, Any], Any], Awaitable[dict[str, Any] | None]]


@dataclass
class ConvexCredentials(Provider):
    """Sign in with whatever ``authorize(params, ctx)`` accepts (Convex's ``ConvexCredentials``).

    ``authorize`` runs inside the ``auth:signIn`` action with that action's ``ctx`` and
    returns ``{"userId": id}`` (optionally ``"sessionId"``) to sign in, or None to refuse.
    Use :func:`~pyconvex.auth.create_account` and :func:`~pyconvex.auth.retrieve_account`
    from it to keep accounts in ``authAccounts``.
    """

    id: str = "credentials"
    authorize: Authorize | None = None
    crypto: Crypto | None = None
    extra: list[Provider] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.type = "credentials"

    def extra_providers(self) -> list[Provider]:
        return list(self.extra)

    async def run_authorize(self, params: dict[str, Any], ctx: Any) -> dict[str, Any] | None:
        if self.authorize is None:
            raise TypeError(f"Provider {self.id!r} has no authorize function.")
        return await maybe_await(self.authorize(params, ctx))


@dataclass
class VerificationRequest:
    """What a sender gets for one code: where to send it and what to send."""

    identifier: str
    """The email address (or phone number) the code is for."""
    url: str
    """A link back to ``SITE_URL`` carrying the code (``?code=...``), for magic links."""
    token: str
    """The code itself, for one-time-code forms."""
    expires_ms: float
    provider: Provider


Sender = Callable[[VerificationRequest, Any], Awaitable[None] | None]


@dataclass
class Email(Provider):
    """Sign in (or verify an address, or reset a password) with a code sent by email.

    ``send_verification_request(request, ctx)`` delivers ``request.token`` (or
    ``request.url``, a magic link) to ``request.identifier``; see
    :class:`~pyconvex.auth.SmtpSender` for a ready one. ``generate_verification_token()``
    makes the code (default: 32 random letters and digits, right for links; give a short
    numeric code for codes typed by hand); codes live ``max_age_s`` seconds.
    ``authorize(params, account)``, when given, must not raise for a code to be accepted
    (Convex Auth uses it to check the email given with the code).
    """

    id: str = "email"
    send_verification_request: Sender | None = None
    max_age_s: float = DEFAULT_CODE_MAX_AGE_S
    generate_verification_token: Callable[[], str | Awaitable[str]] | None = None
    authorize: Callable[[dict[str, Any], dict[str, Any]], Any] | None = None
    address_field: str = "email"

    def __post_init__(self) -> None:
        self.type = "email"

    async def new_code(self) -> str:
        if self.generate_verification_token is not None:
            return str(await maybe_await(self.generate_verification_token()))
        return random_string(32)

    async def send(self, request: VerificationRequest, ctx: Any) -> None:
        if self.send_verification_request is None:
            raise TypeError(f"Provider {self.id!r} has no send_verification_request function.")
        await maybe_await(self.send_verification_request(request, ctx))


@dataclass
class Phone(Email):
    """Like :class:`Email`, for a phone number (``params["phone"]``) and a text message."""

    id: str = "phone"
    address_field: str = "phone"

    def __post_init__(self) -> None:
        self.type = "phone"


def email_code_check(params: dict[str, Any], account: dict[str, Any]) -> None:
    """An ``Email.authorize`` that insists the code comes with the address it was sent to.

    Without it a leaked code alone signs in; with it, a code is only good together with
    its email address (``params["email"]``).
    """
    if params.get("email") != account.get("providerAccountId"):
        raise ValueError("Short verification code requires a matching email")


def numeric_code(length: int = 8) -> Callable[[], str]:
    """A ``generate_verification_token`` giving ``length`` random digits (for typed codes)."""
    return lambda: random_string(length, "0123456789")


@dataclass
class Anonymous(ConvexCredentials):
    """Sign in without any credential: each sign-in creates a new anonymous user
    (``isAnonymous: True``); ``profile(params, ctx)`` may give other fields."""

    id: str = "anonymous"
    profile: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.authorize = self._authorize

    async def _authorize(self, params: dict[str, Any], ctx: Any) -> dict[str, Any] | None:
        from pyconvex.auth.library.accounts import create_account

        profile = (self.profile(params, ctx) if self.profile is not None else None) or {"isAnonymous": True}
        created = await create_account(
            ctx, provider=self.id, account={"id": str(uuid.uuid4())}, profile=profile
        )
        return {"userId": created["user"]["_id"]}
