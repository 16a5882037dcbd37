"""Verified JWT claims -> the identity ``ctx.auth.get_user_identity()`` returns.

The shape is Convex's ``UserIdentity`` (``crates/keybroker/src/broker.rs``,
``sync_types`` ``UserIdentityAttributes``), so code ported from TypeScript reads the
same keys:

* always ``tokenIdentifier`` (``"<iss>|<sub>"``, with ``iss`` exactly as the token
  spells it), ``subject`` and ``issuer``;
* from **OIDC** providers, the standard claims under Convex's camelCase names
  (``email_verified`` -> ``emailVerified``, ``picture`` -> ``pictureUrl``, ...),
  ``updated_at`` as an RFC 3339 string and ``address`` as its ``formatted`` text; the
  other claims are kept as custom claims, minus protocol housekeeping (``aud``, ``exp``,
  ``nonce``, ...) and claims that change on every refresh (``jti``, ``nbf``, ``fva``),
  which would otherwise make every refreshed token look like a new user to caches;
* from **customJwt** providers, every non-registered claim under its own name, nested
  objects flattened to dotted keys (``{"org": {"id": 1}}`` -> ``"org.id"``).

Claim values are JSON, and Convex hands JSON numbers to functions as float64, so
integers become ``float`` here: an identity returned from a query reaches clients as a
number, as with Convex, and not as an int64.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

#: OIDC standard claim -> Convex ``UserIdentity`` field.
OIDC_CLAIM_FIELDS: dict[str, str] = {
    "name": "name",
    "given_name": "givenName",
    "family_name": "familyName",
    "nickname": "nickname",
    "preferred_username": "preferredUsername",
    "profile": "profileUrl",
    "picture": "pictureUrl",
    "website": "websiteUrl",
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
_BOOLEAN_CLAIMS = frozenset({"email_verified", "phone_number_verified"})
# OIDC allows "name#ja-Kana-JP" variants of these; Convex keeps only the plain claim.
_LOCALIZABLE = frozenset({"name", "given_name", "family_name", "nickname", "profile", "picture", "website"})
#: Claims of an OIDC ID token that are never passed on as custom claims.
OIDC_DROPPED_CLAIMS = frozenset({
    "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "acr", "amr",
    "azp", "at_hash", "c_hash", "fva",
})
#: RFC 7519 registered claims (and Clerk's ``fva``), never custom claims of a custom JWT.
CUSTOM_JWT_DROPPED_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "fva"})


def identity_from_claims(claims: Mapping[str, Any], *, custom_jwt: bool = False) -> dict[str, Any]:
    """Build the identity for verified ``claims`` (which must hold string ``iss`` and ``sub``).

    >>> identity_from_claims({"iss": "https://a.example", "sub": "u1", "exp": 1, "team": 7})
    {'tokenIdentifier': 'https://a.example|u1', 'subject': 'u1', 'issuer': 'https://a.example', 'team': 7.0}
    """
    issuer, subject = claims["iss"], claims["sub"]
    identity: dict[str, Any] = {
        "tokenIdentifier": f"{issuer}|{subject}",
        "subject": subject,
        "issuer": issuer,
    }
    standard: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for name, value in claims.items():
        if custom_jwt:
            if name not in CUSTOM_JWT_DROPPED_CLAIMS:
                _flatten_into(custom, name, value)
        elif name in OIDC_CLAIM_FIELDS:
            typed = _standard_claim(name, value)
            if typed is not None:
                standard[OIDC_CLAIM_FIELDS[name]] = typed
        elif name not in OIDC_DROPPED_CLAIMS and name.partition("#")[0] not in _LOCALIZABLE:
            custom[name] = _json_numbers_as_floats(value)
    # A custom claim never overrides the identity's own fields or a standard claim:
    # a token carrying {"subject": "admin"} must not change who the user is.
    identity.update(standard)
    for name, value in custom.items():
        identity.setdefault(name, value)
    return identity


def _standard_claim(name: str, value: Any) -> str | bool | None:
    """The typed value of a standard claim, or None to drop a claim of the wrong type.

    Convex's OIDC library refuses such tokens outright; dropping the one bad claim is
    kinder, and a missing ``emailVerified`` already reads as "not verified".
    """
    if name in _BOOLEAN_CLAIMS:
        # Some providers (AWS Cognito) send "true"/"false" strings.
        if isinstance(value, bool):
            return value
        return {"true": True, "false": False}.get(value) if isinstance(value, str) else None
    if name == "updated_at":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return datetime.fromtimestamp(value, UTC).isoformat()
            except (OverflowError, OSError, ValueError):
                return None
        return value if isinstance(value, str) else None
    if name == "address" and isinstance(value, dict):
        formatted = value.get("formatted")
        return formatted if isinstance(formatted, str) else None
    return value if isinstance(value, str) else None


def _flatten_into(out: dict[str, Any], key: str, value: Any) -> None:
    if isinstance(value, dict):
        for nested_key, nested in value.items():
            _flatten_into(out, f"{key}.{nested_key}", nested)
    else:
        out[key] = _json_numbers_as_floats(value)


def _json_numbers_as_floats(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, list):
        return [_json_numbers_as_floats(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_numbers_as_floats(v) for k, v in value.items()}
    return value
