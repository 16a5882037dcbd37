"""``Password``: email + password accounts, with optional email verification and reset.

Clients call ``signIn("password", {"email", "password", "flow"})`` where ``flow`` is

* ``"signUp"``: create the account (the password must pass the policy);
* ``"signIn"``: check the password;
* ``"reset"``: send a reset code to ``email`` (needs ``reset=Email(...)``);
* ``"reset-verification"``: ``{"email", "code", "newPassword"}`` sets the new password,
  signs this device in and ends every other session;
* ``"email-verification"``: ``{"email", "code"}`` finishes a sign-up or sign-in that
  ``verify=Email(...)`` held back until the address was proven.

Passwords are hashed with argon2id (OWASP's parameters) unless ``crypto`` says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyconvex.auth.library.accounts import (
    ARGON2ID,
    create_account,
    invalidate_sessions,
    modify_account_credentials,
    retrieve_account,
    sign_in_via_provider,
)
from pyconvex.auth.library.providers import ConvexCredentials, Email, Provider
from pyconvex.errors import ConvexError

FLOWS = ("signUp", "signIn", "reset", "reset-verification", "email-verification")
MIN_PASSWORD_LENGTH = 8


def default_password_policy(password: str) -> None:
    """At least 8 characters: Convex Auth's default. Raise ConvexError to refuse."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ConvexError(f"Invalid password: use at least {MIN_PASSWORD_LENGTH} characters.")


def _default_profile(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"email": params.get("email")}


@dataclass
class Password(ConvexCredentials):
    """Email and password sign-in (Convex Auth's ``Password``).

    ``profile(params, ctx)`` maps the sign-up form to the ``users`` fields (it must give
    ``email``); ``validate_password_requirements(password)`` is the password policy
    (raise to refuse; default: 8 characters); ``reset`` / ``verify`` are :class:`Email`
    providers that send the reset and verification codes.
    """

    id: str = "password"
    profile: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None
    validate_password_requirements: Callable[[str], None] | None = None
    reset: Email | None = None
    verify: Email | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.crypto is None:
            self.crypto = ARGON2ID
        self.authorize = self._authorize
        self.extra = [p for p in (self.reset, self.verify) if p is not None]

    def extra_providers(self) -> list[Provider]:
        return list(self.extra)

    def _check_password(self, password: Any) -> None:
        if not isinstance(password, str):
            raise ConvexError("Missing `password` param")
        (self.validate_password_requirements or default_password_policy)(password)

    async def _authorize(self, params: dict[str, Any], ctx: Any) -> dict[str, Any] | None:
        flow = params.get("flow")
        if flow not in FLOWS:
            raise ConvexError(
                'Missing `flow` param, it must be one of "signUp", "signIn", "reset", '
                '"reset-verification" or "email-verification"!'
            )
        if flow == "signUp":
            self._check_password(params.get("password"))
        elif flow == "reset-verification":
            self._check_password(params.get("newPassword"))
        profile = dict((self.profile or _default_profile)(params, ctx))
        email = profile.get("email")
        if not isinstance(email, str) or not email:
            raise ConvexError("Missing `email` param")
        if flow == "signUp":
            found = await create_account(
                ctx, provider=self.id, account={"id": email, "secret": params["password"]},
                profile=profile, should_link_via_email=self.verify is not None)
        elif flow == "signIn":
            if not isinstance(params.get("password"), str):
                raise ConvexError("Missing `password` param for `signIn` flow")
            found = await retrieve_account(
                ctx, provider=self.id, account={"id": email, "secret": params["password"]})
        elif flow == "reset":
            if self.reset is None:
                raise ConvexError(f"Password reset is not enabled for {self.id}")
            try:
                account = (await retrieve_account(ctx, provider=self.id, account={"id": email}))["account"]
            except ConvexError:
                return None  # no such account: the same answer as a sent code, so no one can probe
            return await sign_in_via_provider(ctx, self.reset, account_id=account["_id"], params=params)
        elif flow == "reset-verification":
            if self.reset is None:
                raise ConvexError(f"Password reset is not enabled for {self.id}")
            account = (await retrieve_account(ctx, provider=self.id, account={"id": email}))["account"]
            result = await sign_in_via_provider(ctx, self.reset, params=params)
            if result is None or result["userId"] != account["userId"]:
                raise ConvexError("Invalid code")
            await modify_account_credentials(ctx, provider=self.id,
                                             account={"id": email, "secret": params["newPassword"]})
            await invalidate_sessions(ctx, user_id=result["userId"], except_=[result["sessionId"]])
            return result
        else:  # email-verification
            if self.verify is None:
                raise ConvexError(f"Email verification is not enabled for {self.id}")
            account = (await retrieve_account(ctx, provider=self.id, account={"id": email}))["account"]
            return await sign_in_via_provider(ctx, self.verify, account_id=account["_id"], params=params)
        if self.verify is not None and not found["account"].get("emailVerified"):
            return await sign_in_via_provider(
                ctx, self.verify, account_id=found["account"]["_id"], params=params)
        return {"userId": found["user"]["_id"]}
