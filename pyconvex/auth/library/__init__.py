"""The built-in auth library: Convex Auth's server, in Python (see ``docs/auth.md``).

Users import it from :mod:`pyconvex.auth`; the modules here are:
``convex_auth`` (the functions and HTTP routes), ``sign_in`` (what ``auth:signIn`` does),
``store`` (the ``auth:store`` mutation's steps), ``sessions``, ``users``, ``accounts``
(helpers for providers), ``providers``/``password``/``smtp`` (provider configurations),
``keys`` (the signing key and tokens) and ``tables`` (``auth_tables``).
"""

import os
from typing import Any

from pyconvex.auth.library.accounts import (
    ARGON2ID,
    create_account,
    invalidate_sessions,
    modify_account_credentials,
    retrieve_account,
    sign_in_via_provider,
)
from pyconvex.auth.library.convex_auth import AuthHelper, ConvexAuth, convex_auth
from pyconvex.auth.library.keys import AUDIENCE, AuthSetupError, generate_keys
from pyconvex.auth.library.oauth import OIDC, GitHub, Google, OAuth
from pyconvex.auth.library.password import Password, default_password_policy
from pyconvex.auth.library.providers import (
    Anonymous,
    ConvexCredentials,
    Crypto,
    Email,
    Phone,
    Provider,
    VerificationRequest,
    email_code_check,
    numeric_code,
)
from pyconvex.auth.library.sessions import get_auth_session_id, get_auth_user_id
from pyconvex.auth.library.settings import AuthConfig, Callbacks
from pyconvex.auth.library.smtp import SmtpSender
from pyconvex.auth.library.tables import auth_tables

DEFAULT_SITE_URL = "http://127.0.0.1:3211"


def auth_config_provider() -> dict[str, Any]:
    """The ``auth_config.py`` entry that makes the deployment accept its own tokens:
    ``{"domain": CONVEX_SITE_URL, "applicationID": "convex"}``, as Convex Auth's set-up
    writes it (the keys are found at ``<CONVEX_SITE_URL>/.well-known/openid-configuration``)."""
    return {"domain": os.environ.get("CONVEX_SITE_URL") or DEFAULT_SITE_URL, "applicationID": AUDIENCE}


__all__ = [
    "ARGON2ID",
    "OIDC",
    "Anonymous",
    "AuthConfig",
    "AuthHelper",
    "AuthSetupError",
    "Callbacks",
    "ConvexAuth",
    "ConvexCredentials",
    "Crypto",
    "Email",
    "GitHub",
    "Google",
    "OAuth",
    "Password",
    "Phone",
    "Provider",
    "SmtpSender",
    "VerificationRequest",
    "auth_config_provider",
    "auth_tables",
    "convex_auth",
    "create_account",
    "default_password_policy",
    "email_code_check",
    "generate_keys",
    "get_auth_session_id",
    "get_auth_user_id",
    "invalidate_sessions",
    "modify_account_credentials",
    "numeric_code",
    "retrieve_account",
    "sign_in_via_provider",
]
