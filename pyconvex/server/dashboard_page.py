"""The dashboard page: ``server/dashboard_dist/index.html``, built from ``dashboard/`` (Preact
components bundled by Vite, ``make dashboard``) into one file with its script and stylesheet
inlined. One file lets the Content-Security-Policy allow exactly that script and stylesheet
by hash: the page holds the admin key, so it runs nothing else, may not be framed, and talks
only to this deployment (HTTP and the sync WebSocket, both ``'self'``)."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

BUILT = Path(__file__).parent / "dashboard_dist" / "index.html"


class NotBuilt(RuntimeError):
    """The checkout has not built the page yet (a wheel always carries it)."""


def _hashes(html: str, tag: str) -> str:
    """CSP source expressions for each inline ``tag`` block of the page."""
    blocks = re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", html, flags=re.DOTALL)
    if not blocks:
        raise NotBuilt(f"{BUILT} has no inline <{tag}>: rebuild it with `make dashboard`.")
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() + "'" for b in blocks
    )


@cache
def _page() -> tuple[str, dict[str, str]]:
    try:
        html = BUILT.read_text()
    except FileNotFoundError:
        raise NotBuilt(
            f"The dashboard is not built ({BUILT} is missing): run `make dashboard` "
            "(npm ci and npm run build in dashboard/), or install pyconvex from a wheel."
        ) from None
    headers = {
        "Content-Security-Policy": (
            f"default-src 'none'; script-src {_hashes(html, 'script')}; "
            f"style-src {_hashes(html, 'style')}; connect-src 'self'; img-src 'self' data:; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        ),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    return html, headers


async def page(request: Request) -> Response:
    """``/dashboard``: it asks for the admin key (or reads ``#key=``) and uses the admin API."""
    try:
        html, headers = _page()
    except NotBuilt as e:
        return PlainTextResponse(str(e), status_code=503)
    return HTMLResponse(html, headers=headers)
