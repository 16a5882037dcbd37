"""The auth providers of ``convex/auth_config.py``, parsed once into frozen records.

The user's module sets ``providers`` to a list of dicts (docs/api.md §10), with Convex's
``auth.config.ts`` field names::

    providers = [
        # OIDC: keys are found through <domain>/.well-known/openid-configuration.
        {"domain": "https://issuer.example", "applicationID": "my-app"},
        # Custom JWT: the JWKS URL and the one signing algorithm are given directly.
        {"type": "customJwt", "issuer": "https://auth.example",
         "jwks": "https://auth.example/.well-known/jwks.json",
         "algorithm": "RS256", "applicationID": "optional-audience"},
    ]

Rules, as Convex applies them (``crates/common/src/auth.rs``): an issuer without a
scheme gets ``https://``; trailing slashes never matter when matching a token's ``iss``;
OIDC providers must name the audience (``applicationID``), custom JWT providers may.
A malformed entry raises :class:`AuthConfigError` naming the entry and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeAlias
from urllib.parse import urlsplit

from pyconvex.errors import AuthError

#: Algorithms a custom JWT provider may name (Convex accepts exactly these two).
CUSTOM_JWT_ALGORITHMS = ("RS256", "ES256")
#: Algorithms accepted from OIDC providers: Convex's RS256 and EdDSA, plus ES256.
#: Only asymmetric algorithms: ``none`` and HMAC (which a public JWKS key would turn
#: into a forgeable shared secret) are never accepted.
OIDC_ALGORITHMS = ("RS256", "ES256", "EdDSA")

_OIDC_FIELDS = frozenset({"type", "domain", "applicationID"})
_CUSTOM_JWT_FIELDS = frozenset({"type", "issuer", "jwks", "algorithm", "applicationID"})
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class AuthConfigError(AuthError):
    """``auth_config.py`` is malformed; the message names the provider entry and field.

    An ``AuthError`` because a broken config means no token can be accepted: a client
    authenticating against it is told why instead of getting a server error.
    """

    short_msg = "InvalidAuthConfig"


@dataclass(frozen=True, slots=True)
class OidcProvider:
    """An OpenID Connect issuer; its JWKS is found through OIDC discovery."""

    issuer: str
    """The ``domain`` entry: the issuer URL, with a scheme and no trailing slash."""
    application_id: str
    """Tokens must list this in ``aud``."""

    kind: ClassVar[Literal["oidc"]] = "oidc"

    @property
    def algorithms(self) -> tuple[str, ...]:
        return OIDC_ALGORITHMS


@dataclass(frozen=True, slots=True)
class CustomJwtProvider:
    """A JWT issuer with a fixed JWKS URL (or ``data:`` URL) and one algorithm."""

    issuer: str
    jwks: str
    algorithm: str
    application_id: str | None = None
    """When set, tokens must list it in ``aud``; when ``None`` the audience is not checked."""

    kind: ClassVar[Literal["customJwt"]] = "customJwt"

    @property
    def algorithms(self) -> tuple[str, ...]:
        return (self.algorithm,)


AuthProvider: TypeAlias = OidcProvider | CustomJwtProvider


def normalize_issuer(issuer: str) -> str:
    """The form issuers are compared in: with a scheme (``https://`` if none) and no trailing slash.

    Some providers (Auth0) put a trailing slash in ``iss`` while their docs give the
    domain without one, and some (dynamic.xyz) leave out the scheme; Convex accepts both.
    """
    if not _SCHEME.match(issuer):
        issuer = f"https://{issuer}"
    return issuer.rstrip("/")


def parse_providers(providers: object) -> tuple[AuthProvider, ...]:
    """Parse the ``providers`` list of ``auth_config.py``; ``None`` means no providers.

    >>> parse_providers([{"domain": "https://example.auth0.com/", "applicationID": "abc"}])
    (OidcProvider(issuer='https://example.auth0.com', application_id='abc'),)

    Already parsed providers pass through, so callers may hand either form around.
    Raises :class:`AuthConfigError` naming the entry (``providers[1]``) and field.
    """
    if providers is None:
        return ()
    if isinstance(providers, (str, bytes, Mapping)) or not isinstance(providers, Sequence):
        raise AuthConfigError(
            f"auth_config.providers must be a list of provider dicts, got {type(providers).__name__}."
        )
    return tuple(parse_provider(entry, index) for index, entry in enumerate(providers))


def parse_provider(entry: object, index: int = 0) -> AuthProvider:
    """Parse one provider entry; ``index`` only serves the error messages."""
    if isinstance(entry, (OidcProvider, CustomJwtProvider)):
        return entry
    where = f"auth_config.providers[{index}]"
    if not isinstance(entry, Mapping):
        raise AuthConfigError(f"{where} must be a dict, got {type(entry).__name__}.")
    kind = entry.get("type", "oidc")
    if kind == "customJwt":
        return _parse_custom_jwt(entry, where)
    if kind == "oidc":
        return _parse_oidc(entry, where)
    raise AuthConfigError(
        f"{where}.type is {kind!r}: use \"customJwt\", or leave it out for an OIDC provider."
    )


def _parse_oidc(entry: Mapping[Any, Any], where: str) -> OidcProvider:
    _reject_unknown_fields(entry, _OIDC_FIELDS, where)
    domain = _issuer_url(entry, "domain", where)
    application_id = entry.get("applicationID")
    if not isinstance(application_id, str) or not application_id:
        raise AuthConfigError(
            f"{where}.applicationID is required for an OIDC provider: the audience ('aud') "
            f"its tokens are issued for, got {application_id!r}."
        )
    return OidcProvider(issuer=domain, application_id=application_id)


def _parse_custom_jwt(entry: Mapping[Any, Any], where: str) -> CustomJwtProvider:
    _reject_unknown_fields(entry, _CUSTOM_JWT_FIELDS, where)
    issuer = _issuer_url(entry, "issuer", where)
    jwks = entry.get("jwks")
    if not isinstance(jwks, str) or not jwks:
        raise AuthConfigError(f"{where}.jwks is required for a customJwt provider: the URL of its JWKS.")
    scheme = urlsplit(jwks).scheme.lower()
    if scheme not in ("http", "https", "data") or (scheme != "data" and not urlsplit(jwks).netloc):
        raise AuthConfigError(f"{where}.jwks must be an http(s) or data: URL, got {jwks!r}.")
    algorithm = entry.get("algorithm")
    if algorithm not in CUSTOM_JWT_ALGORITHMS:
        raise AuthConfigError(
            f"{where}.algorithm is {algorithm!r}: customJwt providers support "
            f"{' and '.join(CUSTOM_JWT_ALGORITHMS)}."
        )
    application_id = entry.get("applicationID")
    if application_id is not None and (not isinstance(application_id, str) or not application_id):
        raise AuthConfigError(
            f"{where}.applicationID must be a non-empty string (or left out), got {application_id!r}."
        )
    return CustomJwtProvider(
        issuer=issuer, jwks=jwks, algorithm=str(algorithm), application_id=application_id
    )


def _issuer_url(entry: Mapping[Any, Any], field: str, where: str) -> str:
    value = entry.get(field)
    if not isinstance(value, str) or not value.strip():
        raise AuthConfigError(f"{where}.{field} is required: the issuer URL, got {value!r}.")
    if value.startswith('"'):
        raise AuthConfigError(f"{where}.{field} {value!r} starts with a double quote.")
    url = normalize_issuer(value.strip())
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise AuthConfigError(f"{where}.{field} {value!r} is not an http(s) URL.")
    # Without a scheme, insist on something that looks like a host, to catch a token or an
    # application id pasted into the wrong field (Convex's "Does not look like a URL").
    if not _SCHEME.match(value) and parts.hostname != "localhost" and "." not in parts.hostname:
        raise AuthConfigError(
            f"{where}.{field} {value!r} does not look like a URL: give a scheme (https://...) "
            "or a domain name."
        )
    return url


def _reject_unknown_fields(entry: Mapping[Any, Any], allowed: frozenset[str], where: str) -> None:
    # Python has no excess-property check like auth.config.ts has, so a typo such as
    # "applicationId" would silently turn off the audience check: refuse it here.
    for key in entry:
        if key not in allowed:
            close = next((a for a in sorted(allowed) if str(key).lower() == a.lower()), None)
            hint = f" (did you mean {close!r}?)" if close else f" (allowed: {', '.join(sorted(allowed))})"
            raise AuthConfigError(f"{where} has an unknown field {key!r}{hint}.")
