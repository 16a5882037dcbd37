"""Verifying user tokens into identities (``ctx.auth.get_user_identity()``).

A token is accepted only if: its issuer matches a configured provider; it is signed
by one of that provider's keys with an allowed asymmetric algorithm (never ``none``,
never HMAC); its audience contains the provider's application id (when one is set);
and ``exp``/``nbf`` hold (with a small leeway). Each failure raises
:class:`AuthError` saying which check failed, without echoing the token.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from pyconvex.auth.config import Provider, parse_providers
from pyconvex.auth.jwks import JwksCache
from pyconvex.errors import AuthError

LEEWAY_S = 10

# Standard OIDC claims under Convex's names for UserIdentity.
CLAIM_NAMES = {
    "name": "name",
    "given_name": "givenName",
    "family_name": "familyName",
    "nickname": "nickname",
    "preferred_username": "preferredUsername",
    "profile": "profileUrl",
    "picture": "pictureUrl",
    "website": "website",
    "email": "email",
    "email_verified": "emailVerified",
    "gender": "gender",
    "birthdate": "birthday",
    "zoneinfo": "timezone",
    "locale": "language",
    "phone_number": "phoneNumber",
    "phone_number_verified": "phoneNumberVerified",
    "address": "address",
    "updated_at": "updatedAt",
}
_RESERVED = {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "azp"}


def _malformed(why: str) -> AuthError:
    return AuthError(f"Malformed token: {why}.", short_msg="InvalidAuthHeader")


def _segment(token: str, index: int) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise _malformed("expected a JWT (three dot-separated parts)")
    raw = parts[index]
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError):
        raise _malformed("a part is not base64url JSON") from None
    if not isinstance(data, dict):
        raise _malformed("header and payload must be JSON objects")
    return data


class TokenVerifier:
    def __init__(self, providers: Any, *, jwks: JwksCache | None = None) -> None:
        self.providers = parse_providers(providers)
        self.jwks = jwks or JwksCache()

    async def aclose(self) -> None:
        await self.jwks.aclose()

    def _provider(self, issuer: Any) -> Provider:
        if not self.providers:
            raise AuthError(
                "No auth provider found matching the given token: no providers are configured "
                "in convex/auth_config.py.",
                short_msg="NoAuthProvider",
            )
        if isinstance(issuer, str):
            for provider in self.providers:
                if provider.issuer == issuer.rstrip("/"):
                    return provider
        raise AuthError(
            f"No auth provider found matching the given token (issuer {issuer!r}).",
            short_msg="NoAuthProvider",
        )

    async def verify(self, token: str) -> dict[str, Any]:
        header = _segment(token, 0)
        unverified = _segment(token, 1)
        provider = self._provider(unverified.get("iss"))
        alg = header.get("alg")
        if alg not in provider.algorithms:
            raise AuthError(
                f"Token algorithm {alg!r} is not allowed for issuer {provider.issuer} "
                f"(allowed: {', '.join(provider.algorithms)}).",
                short_msg="InvalidAuthHeader",
            )
        keys = await self.jwks.keys_for(provider, header.get("kid"))
        try:
            decoded = jwt.decode(token, keys, algorithms=list(provider.algorithms))
        except JoseError:
            # The issuer may have rotated keys: fetch once more (rate-limited) and retry.
            keys = await self.jwks.keys_for(provider, f"unknown:{header.get('kid')}")
            try:
                decoded = jwt.decode(token, keys, algorithms=list(provider.algorithms))
            except JoseError:
                raise AuthError(
                    "Token signature could not be verified with the issuer's keys.",
                    short_msg="InvalidAuthHeader",
                ) from None
        claims = dict(decoded.claims)
        self._check_claims(provider, claims)
        return identity_from_claims(provider.issuer, claims)

    @staticmethod
    def _check_claims(provider: Provider, claims: dict[str, Any]) -> None:
        now = time.time()
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)):
            raise AuthError("Token has no expiry (exp).", short_msg="InvalidAuthHeader")
        if exp + LEEWAY_S < now:
            raise AuthError("Token expired.", short_msg="TokenExpired")
        nbf = claims.get("nbf")
        if isinstance(nbf, (int, float)) and nbf - LEEWAY_S > now:
            raise AuthError("Token is not valid yet (nbf).", short_msg="InvalidAuthHeader")
        if provider.application_id is not None:
            aud = claims.get("aud")
            audiences = aud if isinstance(aud, list) else [aud]
            if provider.application_id not in audiences:
                raise AuthError(
                    f"Token audience {aud!r} does not match the application ID "
                    f"{provider.application_id!r} configured for {provider.issuer}.",
                    short_msg="InvalidAuthHeader",
                )
        if not isinstance(claims.get("sub"), str):
            raise AuthError("Token has no subject (sub).", short_msg="InvalidAuthHeader")


def identity_from_claims(issuer: str, claims: dict[str, Any]) -> dict[str, Any]:
    identity: dict[str, Any] = {
        "tokenIdentifier": f"{issuer}|{claims['sub']}",
        "subject": claims["sub"],
        "issuer": issuer,
    }
    for claim, value in claims.items():
        if claim in _RESERVED:
            continue
        identity[CLAIM_NAMES.get(claim, claim)] = value
    return identity
