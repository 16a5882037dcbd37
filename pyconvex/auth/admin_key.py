"""Checking a deployment's admin key (HTTP ``Authorization: Convex <key>`` and the sync
protocol's ``Authenticate`` with ``tokenType: "Admin"``)."""

from __future__ import annotations

import hmac


def admin_key_matches(given: object, expected: str | None) -> bool:
    """Compared in constant time, so the time a refusal takes says nothing of how much
    of a guessed key was right."""
    if expected is None or not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode(), expected.encode())
