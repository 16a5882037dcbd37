"""The deployment's CORS policy, defined once: Starlette's middleware applies it to the
routes it serves, and the plain-ASGI call routes (``fast_path.py``) add the same headers
it would (a browser app on any origin may call the deployment, with credentials, as it
may call Convex)."""

from __future__ import annotations

from typing import Any

CORS_OPTIONS: dict[str, Any] = {
    "allow_origin_regex": ".*",
    "allow_methods": ["GET", "POST", "OPTIONS", "PATCH", "DELETE", "PUT"],
    "allow_headers": ["*"],
    "allow_credentials": True,
    "max_age": 86400,
}
"""Keyword arguments of ``starlette.middleware.cors.CORSMiddleware``."""


def simple_response_headers(origin: bytes) -> list[tuple[bytes, bytes]]:
    """What the middleware adds to a (non-preflight) response for a request from
    ``origin`` under ``CORS_OPTIONS``: every origin is allowed, echoed back, with
    credentials."""
    return [
        (b"access-control-allow-credentials", b"true"),
        (b"access-control-allow-origin", origin),
        (b"vary", b"Origin"),
    ]
