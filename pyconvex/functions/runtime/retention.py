"""How long a finished job's document is kept: Convex keeps results for 7 days."""

from __future__ import annotations

from typing import Any

RESULT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000


def finished(doc: dict[str, Any], state: dict[str, Any], now_ms: float) -> dict[str, Any]:
    """``doc`` in a final state; its ``nextTs`` becomes the time to delete it."""
    out = dict(doc)
    out["state"] = state
    out["completedTime"] = float(now_ms)
    out["nextTs"] = float(now_ms) + RESULT_RETENTION_MS
    return out
