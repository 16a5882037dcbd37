"""Verifying user JWTs against the providers of ``auth_config.py``.

A token is accepted only when every step below holds, in this order (routing first,
as Convex does in ``crates/authentication``, so that errors name the provider):

1. it is a compact JWS: three base64url parts whose first two are JSON objects;
2. its ``alg`` is asymmetric: ``none`` and HMAC are refused before anything else,
   since an HMAC "verified" with a public key proves nothing;
3. its ``iss`` matches a provider (scheme and trailing slash forgiven), and its ``aud``
   contains that provider's ``applicationID`` when it has one;
4. its ``alg`` is one that provider allows (customJwt: exactly the configured one);
5. its signature verifies (joserfc) with a key of the provider's JWKS that has the
   token's ``kid`` and fits the algorithm; an unknown ``kid`` triggers one
   rate-limited JWKS refetch, for key rotation;
6. ``exp`` is present and not past, ``nbf`` and ``iat`` are not in the future (each
   with ``leeway_s``, 5 s as in Convex); OIDC ID tokens must carry ``iat``;
7. ``sub`` is a non-empty string.

Every failure is an :class:`~pyconvex.errors.AuthError` saying which step failed,
with Convex's short codes (``NoAuthProvider`` when no provider takes the token,
``InvalidAuthHeader`` for everything about the token itself). The messages reach
clients: they name issuers, audiences and key ids, never the token or key material.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError, SecurityWarning

from pyconvex.auth.config import AuthProvider, CustomJwtProvider, normalize_issuer, parse_providers
from pyconvex.auth.identity import identity_from_claims
from pyconvex.auth.jwks import JwksCache, VerificationKey
from pyconvex.errors import AuthError

LEEWAY_S = 5.0
#: How long, at most, a verified token is remembered, and how many are.
VERIFIED_CACHE_S = 300.0
VERIFIED_CACHE_SIZE = 4096
#: Every algorithm any provider may accept; anything else is refused before routing.
ACCEPTED_ALGORITHMS = ("RS256", "ES256", "EdDSA")

_INVALID = "InvalidAuthHeader"
_NO_PROVIDER = "NoAuthProvider"


class TokenVerifier:
    """Turns a user JWT into the identity functions see, or raises ``AuthError``.

    >>> verifier = TokenVerifier([{"domain": "https://example.auth0.com", "applicationID": "abc"}])
    >>> identity = await verifier.verify(token)
    >>> identity["tokenIdentifier"]
    'https://example.auth0.com/|auth0|42'
    >>> await verifier.aclose()

    ``providers`` is the ``providers`` list of ``auth_config.py`` (raw dicts or already
    parsed); a malformed list raises :class:`~pyconvex.auth.AuthConfigError` here. One
    verifier holds one :class:`JwksCache`, so keep it for the deployment's lifetime and
    close it with :meth:`aclose` (or ``async with``). ``clock`` is Unix seconds and
    exists for tests.
    """

    def __init__(
        self,
        providers: object,
        *,
        jwks: JwksCache | None = None,
        leeway_s: float = LEEWAY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.providers: tuple[AuthProvider, ...] = parse_providers(providers)
        self.jwks = jwks if jwks is not None else JwksCache()
        self.leeway_s = leeway_s
        self._clock = clock
        self._verified: OrderedDict[str, tuple[float, AuthProvider, int, dict[str, Any]]] = OrderedDict()

    async def aclose(self) -> None:
        await self.jwks.aclose()

    async def __aenter__(self) -> TokenVerifier:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def verify(self, token: str) -> dict[str, Any]:
        """Verify ``token`` and return its identity (see :mod:`pyconvex.auth.identity`).

        A token verified once is remembered (exactly that string, at most
        ``VERIFIED_CACHE_S`` and never past its ``exp``): HTTP clients send the same
        Bearer token with every request, and an RSA check plus decoding cost more than
        the query they come with. Its times are checked again on every use.
        """
        cached = self._verified.get(token)
        if cached is not None:
            expires, provider, generation, identity = cached
            # Still unexpired, and the issuer's keys are the ones it was checked with
            # (a rotated-out key must stop vouching for its tokens).
            if self._clock() < expires and (await self.jwks.keys(provider)).generation == generation:
                self._verified.move_to_end(token)
                return dict(identity)
            self._verified.pop(token, None)
        return await self._verify(token)

    async def _verify(self, token: str) -> dict[str, Any]:
        if not self.providers:
            raise AuthError(
                "No auth provider found matching the given token: no providers are configured "
                "in convex/auth_config.py.",
                short_msg=_NO_PROVIDER,
            )
        header, unverified = _split(token)
        alg = _accepted_algorithm(header)
        provider = self._route(unverified)
        if alg not in provider.algorithms:
            raise AuthError(
                f"Token algorithm {alg} is not allowed for issuer {provider.issuer}: "
                f"use {' or '.join(provider.algorithms)}.",
                short_msg=_INVALID,
            )
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise AuthError("Malformed token: the 'kid' header must be a string.", short_msg=_INVALID)
        claims = await self._verify_signature(token, alg, kid, provider)
        self._check_times(claims, provider)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise AuthError("Token has no subject: the 'sub' claim is missing or empty.", short_msg=_INVALID)
        identity = identity_from_claims(claims, custom_jwt=isinstance(provider, CustomJwtProvider))
        expires = min(float(claims["exp"]) + self.leeway_s, self._clock() + VERIFIED_CACHE_S)
        generation = (await self.jwks.keys(provider)).generation
        self._verified[token] = (expires, provider, generation, dict(identity))
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return identity

    def _route(self, claims: Mapping[str, Any]) -> AuthProvider:
        issuer = claims.get("iss")
        if not isinstance(issuer, str) or not issuer:
            raise AuthError(
                "Token has no issuer: the 'iss' claim is missing, so no auth provider can be chosen.",
                short_msg=_INVALID,
            )
        same_issuer = [p for p in self.providers if p.issuer == normalize_issuer(issuer)]
        if not same_issuer:
            configured = ", ".join(p.issuer for p in self.providers)
            raise AuthError(
                f"No auth provider found matching the given token: unknown issuer {issuer!r} "
                f"(configured issuers: {configured}).",
                short_msg=_NO_PROVIDER,
            )
        audiences = _audiences(claims.get("aud"))
        for provider in same_issuer:
            if provider.application_id is None or provider.application_id in audiences:
                return provider
        expected = " or ".join(repr(p.application_id) for p in same_issuer)
        got = f"audience {sorted(audiences)!r}" if audiences else "no audience ('aud' claim)"
        raise AuthError(
            f"No auth provider found matching the given token: wrong audience. Issuer {issuer!r} "
            f"is configured with applicationID {expected}, but the token has {got}.",
            short_msg=_NO_PROVIDER,
        )

    async def _verify_signature(
        self, token: str, alg: str, kid: str | None, provider: AuthProvider
    ) -> dict[str, Any]:
        snapshot = await self.jwks.keys(provider)
        candidates = snapshot.candidates(alg, kid)
        if not candidates:
            # The issuer may have rotated its keys since we cached them.
            snapshot = await self.jwks.refresh(provider, snapshot)
            candidates = snapshot.candidates(alg, kid)
        if not candidates:
            which = f" with key id (kid) {kid!r}" if kid is not None else ""
            raise AuthError(
                f"Token signature cannot be checked: the JWKS of {provider.issuer} has no "
                f"{alg} key{which}.",
                short_msg=_INVALID,
            )
        claims = _decode(token, alg, candidates)
        if claims is None and kid is None:
            # Without a kid a rotated key looks like a bad signature: refetch once too.
            refreshed = await self.jwks.refresh(provider, snapshot)
            if refreshed.generation != snapshot.generation:
                claims = _decode(token, alg, refreshed.candidates(alg, None))
        if claims is None:
            raise AuthError(
                f"Token signature is invalid: it does not verify with "
                f"{f'the {alg} key (kid {kid!r})' if kid else f'any {alg} key'} of {provider.issuer}. "
                "The token was altered or signed by another key.",
                short_msg=_INVALID,
            )
        return claims

    def _check_times(self, claims: Mapping[str, Any], provider: AuthProvider) -> None:
        now = self._clock()
        exp = _numeric_claim(claims, "exp")
        if exp is None:
            raise AuthError("Token has no expiry: the 'exp' claim is missing.", short_msg=_INVALID)
        if now >= exp + self.leeway_s:
            raise AuthError(f"Token expired {_ago(now - exp)} ago.", short_msg=_INVALID)
        nbf = _numeric_claim(claims, "nbf")
        if nbf is not None and now + self.leeway_s < nbf:
            raise AuthError(
                f"Token is not valid yet: its 'nbf' (not before) is {_ago(nbf - now)} from now.",
                short_msg=_INVALID,
            )
        iat = _numeric_claim(claims, "iat")
        if iat is None and not isinstance(provider, CustomJwtProvider):
            raise AuthError("Token has no 'iat' (issued at) claim, which OIDC ID tokens require.",
                            short_msg=_INVALID)
        if iat is not None and now + self.leeway_s < iat:
            raise AuthError(
                f"Token was issued in the future: its 'iat' is {_ago(iat - now)} from now "
                "(is the issuer's clock right?).",
                short_msg=_INVALID,
            )


def _split(token: object) -> tuple[dict[str, Any], dict[str, Any]]:
    """The unverified header and claims: only for routing; nothing is trusted before step 5."""
    if not isinstance(token, str):
        raise _malformed("expected a string")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise _malformed(f"a JWT has three base64url parts separated by dots, this has {len(parts)}")
    decoded = []
    for name, part in (("header", parts[0]), ("payload", parts[1])):
        try:
            value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        except (binascii.Error, ValueError):
            raise _malformed(f"the {name} is not base64url-encoded JSON") from None
        if not isinstance(value, dict):
            raise _malformed(f"the {name} is not a JSON object")
        decoded.append(value)
    return decoded[0], decoded[1]


def _accepted_algorithm(header: Mapping[str, Any]) -> str:
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise _malformed("the header has no 'alg'")
    if alg in ACCEPTED_ALGORITHMS:
        return alg
    if alg.lower() == "none":
        why = "unsigned tokens (alg 'none') are never accepted"
    elif alg.upper().startswith("HS"):
        why = f"symmetric algorithms ({alg}) are never accepted, only public-key signatures"
    else:
        why = "it is not supported"
    raise AuthError(
        f"Token algorithm {alg!r} is not allowed: {why} (use {', '.join(ACCEPTED_ALGORITHMS)}).",
        short_msg=_INVALID,
    )


def _decode(token: str, alg: str, keys: list[VerificationKey]) -> dict[str, Any] | None:
    """The verified claims, or None if no key verifies the signature."""
    for candidate in keys:
        try:
            with warnings.catch_warnings():
                # joserfc flags "EdDSA" as superseded by RFC 9864's "Ed25519"; OIDC
                # providers still send it and Convex accepts it, so the warning is moot.
                warnings.simplefilter("ignore", SecurityWarning)
                return dict(jwt.decode(token.strip(), candidate.key, algorithms=[alg]).claims)
        except BadSignatureError:
            continue
        except JoseError as e:
            raise _malformed(e.description or e.error) from None
    return None


def _audiences(aud: object) -> set[str]:
    if isinstance(aud, str):
        return {aud}
    if isinstance(aud, list):
        return {a for a in aud if isinstance(a, str)}
    return set()


def _numeric_claim(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AuthError(f"Malformed token: the '{name}' claim must be a number of seconds.",
                        short_msg=_INVALID)
    return float(value)


def _ago(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _malformed(why: str) -> AuthError:
    return AuthError(f"Malformed token: {why}.", short_msg=_INVALID)

