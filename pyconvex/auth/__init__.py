"""Authentication: ``auth_config.py`` providers, JWKS, verified identities, and the
built-in auth library (Convex Auth's server: ``convex_auth``, ``Password``, ...).

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
from pyconvex.auth.library import (
    OIDC,
    Anonymous,
    AuthSetupError,
    Callbacks,
    ConvexCredentials,
    Crypto,
    Email,
    GitHub,
    Google,
    OAuth,
    Password,
    Phone,
    SmtpSender,
    VerificationRequest,
    auth_config_provider,
    auth_tables,
    convex_auth,
    create_account,
    email_code_check,
    generate_keys,
    get_auth_session_id,
    get_auth_user_id,
    invalidate_sessions,
    modify_account_credentials,
    numeric_code,
    retrieve_account,
    sign_in_via_provider,
)

__all__ = [
    "OIDC",
    "Anonymous",
    "AuthConfigError",
    "AuthProvider",
    "AuthSetupError",
    "Callbacks",
    "ConvexCredentials",
    "Crypto",
    "CustomJwtProvider",
    "Email",
    "GitHub",
    "Google",
    "JwksCache",
    "OAuth",
    "OidcProvider",
    "Password",
    "Phone",
    "SmtpSender",
    "TokenVerifier",
    "VerificationRequest",
    "auth_config_provider",
    "auth_tables",
    "convex_auth",
    "create_account",
    "email_code_check",
    "generate_keys",
    "get_auth_session_id",
    "get_auth_user_id",
    "identity_from_claims",
    "invalidate_sessions",
    "modify_account_credentials",
    "numeric_code",
    "parse_provider",
    "parse_providers",
    "retrieve_account",
    "sign_in_via_provider",
]
