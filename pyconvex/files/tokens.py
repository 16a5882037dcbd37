"""Signed, expiring tokens for upload and download URLs.

``sign(key, purpose, subject, expires_ms)`` -> ``"<expires>.<subject>.<nonce>.<mac>"``
(URL-safe); ``verify`` checks the MAC (constant time), the purpose and the expiry and
returns ``(subject, nonce)``. Single use (uploads) is the caller's job: it records the
nonce in the same transaction that stores the file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from pyconvex.errors import AuthError


class BadTokenError(AuthError):
    short_msg = "InvalidStorageToken"


def _mac(key: bytes, text: str) -> str:
    digest = hmac.new(key, text.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(key: bytes, purpose: str, subject: str, expires_ms: float) -> str:
    body = f"{int(expires_ms)}.{subject}.{secrets.token_urlsafe(12)}"
    return f"{body}.{_mac(key, purpose + '|' + body)}"


def verify(key: bytes, purpose: str, token: str, now_ms: float) -> tuple[str, str]:
    parts = token.split(".")
    if len(parts) != 4:
        raise BadTokenError("Malformed storage token.")
    expires, subject, nonce, mac = parts
    body = f"{expires}.{subject}.{nonce}"
    if not hmac.compare_digest(mac, _mac(key, purpose + "|" + body)):
        raise BadTokenError("The storage token's signature does not match.")
    if not expires.isdigit() or int(expires) < now_ms:
        raise BadTokenError("The storage URL has expired.")
    return subject, nonce
