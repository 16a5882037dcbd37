"""Authentication: ``auth_config.py`` providers, JWKS, and verified user identities.

The server builds one :class:`TokenVerifier` per loaded ``auth_config.py`` and calls
``await verifier.verify(jwt)`` for every ``Authenticate`` message and ``Bearer``
header; the dict it returns is what ``ctx.auth.get_user_identity()`` gives functions.
"""

from pyconvex.auth.config import (
    AuthConfigError,
    AuthProvider,
    CustomJwtProvider,
    OidcProvider,
    parse_provider,
    parse_providers,
)
from pyconvex.auth.identity import identity_from_claims
from pyconvex.auth.jwks import JwksCache
from pyconvex.auth.jwt import TokenVerifier

__all__ = [
    "AuthConfigError",
    "AuthProvider",
    "CustomJwtProvider",
    "JwksCache",
    "OidcProvider",
    "TokenVerifier",
    "identity_from_claims",
    "parse_provider",
    "parse_providers",
]
