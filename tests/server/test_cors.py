"""One CORS policy: the plain-ASGI call routes answer a browser with exactly the headers
Starlette's CORS middleware gives the routes it serves."""

from __future__ import annotations

import httpx


def _cors(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items()
            if k.startswith("access-control-") or k == "vary"}


def test_fast_and_framework_routes_send_the_same_cors_headers(server: str):
    origin = {"Origin": "https://app.example"}
    body = {"path": "channels:list", "args": {}}
    fast = httpx.post(f"{server}/api/query", json=body, headers=origin)
    framework = httpx.post(f"{server}/api/run/channels/list", json={"args": {}}, headers=origin)
    assert fast.status_code == framework.status_code == 200
    assert _cors(fast) == _cors(framework)
    assert _cors(fast)["access-control-allow-origin"] == "https://app.example"
    preflight = httpx.options(f"{server}/api/query", headers={
        **origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
