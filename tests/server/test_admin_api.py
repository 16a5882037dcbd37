"""The admin API under /api/pyconvex/ and the dashboard page, over real HTTP."""

from __future__ import annotations

import threading

import httpx

ADMIN = {"Authorization": "Convex test-admin-key"}


def test_every_admin_endpoint_needs_the_admin_key(server: str) -> None:
    for method, path in [("GET", "/api/pyconvex/tables"), ("GET", "/api/pyconvex/data?table=x"),
                         ("GET", "/api/pyconvex/logs"), ("GET", "/api/pyconvex/env"),
                         ("POST", "/api/pyconvex/env"), ("POST", "/api/pyconvex/deploy")]:
        anonymous = httpx.request(method, server + path)
        assert anonymous.status_code == 401, (path, anonymous.text)
        wrong = httpx.request(method, server + path, headers={"Authorization": "Convex nope"})
        assert wrong.status_code == 401 and wrong.json()["code"] == "BadAdminKey"


def test_tables_data_and_system_tables(server: str) -> None:
    cid = httpx.post(f"{server}/api/mutation", json={"path": "channels:create", "args": {"name": "a"}}).json()["value"]
    assert "channels" in httpx.get(f"{server}/api/pyconvex/tables", headers=ADMIN).json()["tables"]
    docs = httpx.get(f"{server}/api/pyconvex/data", params={"table": "channels"}, headers=ADMIN).json()
    assert [d["_id"] for d in docs["documents"]] == [cid]
    assert httpx.get(f"{server}/api/pyconvex/data", params={"table": "_storage"}, headers=ADMIN).json()["documents"] == []
    hidden = httpx.get(f"{server}/api/pyconvex/data", params={"table": "_modules"}, headers=ADMIN)
    assert hidden.status_code == 400 and hidden.json()["code"] == "TableNotFound"
    bad = httpx.get(f"{server}/api/pyconvex/data", params={"table": "channels", "limit": 0}, headers=ADMIN)
    assert bad.status_code == 400 and "limit" in bad.json()["message"]


def test_logs_long_poll_returns_as_soon_as_a_function_logs(server: str) -> None:
    last = httpx.get(f"{server}/api/pyconvex/logs", params={"after": -1}, headers=ADMIN).json()["last"]
    got: dict[str, object] = {}

    def poll() -> None:
        got["body"] = httpx.get(f"{server}/api/pyconvex/logs", params={"after": last, "wait": 20},
                                headers=ADMIN, timeout=30).json()

    waiter = threading.Thread(target=poll)
    waiter.start()
    httpx.post(f"{server}/api/mutation", json={"path": "channels:create", "args": {"name": "logged"}})
    waiter.join(10)
    assert not waiter.is_alive()
    entries = got["body"]["entries"]  # type: ignore[index]
    assert entries and entries[0]["path"] == "channels:create" and entries[0]["kind"] == "mutation"


def test_environment_variables_round_trip(server: str) -> None:
    env = f"{server}/api/pyconvex/env"
    assert httpx.post(env, json={"changes": {"PYCONVEX_T1": "v1"}}, headers=ADMIN).json()["variables"]["PYCONVEX_T1"] == "v1"
    assert httpx.get(env, headers=ADMIN).json()["variables"] == {"PYCONVEX_T1": "v1"}
    assert httpx.post(env, json={"changes": {"PYCONVEX_T1": None}}, headers=ADMIN).json()["variables"] == {}
    bad = httpx.post(env, json={"changes": {"has space": "x"}}, headers=ADMIN)
    assert bad.status_code == 400 and "has space" in bad.json()["message"]


def test_dashboard_page_is_served(server: str) -> None:
    page = httpx.get(f"{server}/dashboard")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/api/pyconvex/tables" in page.text  # it works through the admin API
