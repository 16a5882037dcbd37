"""Authentication: JWT/OIDC providers, JWKS, identities."""

from pyconvex.auth.config import AuthConfigError, Provider, parse_providers
from pyconvex.auth.jwks import JwksCache
from pyconvex.auth.jwt import TokenVerifier, identity_from_claims

__all__ = [
    "AuthConfigError",
    "JwksCache",
    "Provider",
    "TokenVerifier",
    "identity_from_claims",
    "parse_providers",
]
