"""Smaller hardening items: the admin key stays out of URLs and is compared in constant
time, and the dashboard (which holds the admin key) cannot be framed."""

from __future__ import annotations

import httpx

from pyconvex.auth.admin_key import admin_key_matches

ADMIN = {"Authorization": "Convex test-admin-key"}


def test_admin_key_matching():
    assert admin_key_matches("k-1", "k-1")
    assert not admin_key_matches("k-2", "k-1")
    assert not admin_key_matches("k-1", None)
    assert not admin_key_matches(None, "k-1")
    assert not admin_key_matches("", "k-1")


def test_the_admin_key_is_refused_in_the_url_of_function_routes(server: str):
    body = {"path": "channels:list", "args": {}}
    for route in ("/api/query", "/api/run/channels/list"):
        r = httpx.post(f"{server}{route}?adminKey=test-admin-key", json=body)
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "AdminKeyInUrl" and "Authorization" in r.json()["message"]
    r = httpx.post(f"{server}/api/query", json=body, headers=ADMIN)
    assert r.json()["status"] == "success"
    r = httpx.post(f"{server}/api/query", json=body, headers={"Authorization": "Convex wrong"})
    assert r.status_code == 401


def test_the_dashboard_cannot_be_framed_and_runs_only_its_own_code(server: str):
    r = httpx.get(f"{server}/dashboard")
    assert r.status_code == 200
    assert r.headers["x-frame-options"] == "DENY"
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "'unsafe-inline'" not in csp and "script-src 'sha256-" in csp
