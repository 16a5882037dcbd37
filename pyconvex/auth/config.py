"""Auth providers from ``convex/auth_config.py`` (API.md §10)::

    providers = [
        {"domain": "https://issuer.example", "applicationID": "my-app"},        # OIDC
        {"type": "customJwt", "issuer": "https://auth.example", "jwks": "https://auth.example/jwks.json",
         "algorithm": "RS256", "applicationID": "optional-audience"},
    ]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "EdDSA")


class AuthConfigError(ValueError):
    """A malformed provider entry; the message names the entry and field."""


@dataclass(frozen=True, slots=True)
class Provider:
    issuer: str
    application_id: str | None
    jwks_url: str | None
    """None for OIDC providers: found through ``<issuer>/.well-known/openid-configuration``."""
    algorithms: tuple[str, ...]

    @property
    def is_oidc(self) -> bool:
        return self.jwks_url is None


def _norm(issuer: str) -> str:
    return issuer.rstrip("/")


def parse_providers(providers: Any) -> tuple[Provider, ...]:
    if providers is None:
        return ()
    if not isinstance(providers, (list, tuple)):
        raise AuthConfigError("auth_config.providers must be a list of provider dicts")
    out = []
    for i, entry in enumerate(providers):
        where = f"auth_config.providers[{i}]"
        if not isinstance(entry, dict):
            raise AuthConfigError(f"{where} must be a dict, got {type(entry).__name__}")
        kind = entry.get("type", "oidc")
        app_id = entry.get("applicationID")
        if app_id is not None and not isinstance(app_id, str):
            raise AuthConfigError(f"{where}.applicationID must be a string")
        if kind == "customJwt":
            issuer, jwks, alg = entry.get("issuer"), entry.get("jwks"), entry.get("algorithm")
            for name, value in (("issuer", issuer), ("jwks", jwks), ("algorithm", alg)):
                if not isinstance(value, str) or not value:
                    raise AuthConfigError(f"{where}.{name} is required for customJwt providers")
            if alg not in ASYMMETRIC_ALGORITHMS:
                raise AuthConfigError(
                    f"{where}.algorithm {alg!r} is not supported (use one of "
                    f"{', '.join(ASYMMETRIC_ALGORITHMS)})"
                )
            out.append(Provider(_norm(issuer), app_id, jwks, (alg,)))
        elif kind == "oidc":
            domain = entry.get("domain")
            if not isinstance(domain, str) or not domain.startswith(("https://", "http://")):
                raise AuthConfigError(f"{where}.domain must be the issuer URL (https://...)")
            if not isinstance(app_id, str):
                raise AuthConfigError(f"{where}.applicationID is required for OIDC providers")
            out.append(Provider(_norm(domain), app_id, None, ("RS256", "ES256")))
        else:
            raise AuthConfigError(f"{where}.type {kind!r} is unknown (use 'customJwt' or omit it)")
    return tuple(out)
