"""The dashboard in a real browser: tables and documents, run a function, environment."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Browser, expect

from tests.conftest import FIXTURES, start_server, stop_server


def test_dashboard_shows_data_runs_functions_and_sets_env(tmp_path: Path, browser: Browser) -> None:
    proc, url = start_server(tmp_path / "db.sqlite3")
    try:
        httpx.post(f"{url}/api/mutation", json={"path": "channels:create", "args": {"name": "general"}})
        page = browser.new_page()
        page.goto(f"{url}/dashboard#key=test-admin-key")
        expect(page.locator("[data-table=channels]")).to_be_visible(timeout=10_000)
        page.locator("[data-table=channels]").click()
        expect(page.get_by_test_id("documents")).to_contain_text("general")
        page.get_by_role("button", name="Run a function").click()
        page.locator("#fn").fill("channels:list")
        page.get_by_role("button", name="Run", exact=True).click()
        expect(page.locator("#result")).to_contain_text('"name": "general"')
        # an int argument (messages:list's limit: int): the form sends an int64, not 2.0
        cid = httpx.post(f"{url}/api/query", json={"path": "channels:list", "args": {}}).json()["value"][0]["_id"]
        for text in ("one", "two", "three"):
            httpx.post(f"{url}/api/mutation", json={"path": "messages:send", "args": {"channelId": cid, "text": text}})
        page.locator("#fn").fill("messages:list")
        page.locator("#args").fill(f'{{"channelId": "{cid}", "limit": 2}}')
        page.get_by_role("button", name="Run", exact=True).click()
        expect(page.locator("#result")).to_contain_text('"text": "three"')
        assert "Error" not in page.locator("#result").inner_text()
        assert page.locator("#result").inner_text().count('"text"') == 2
        # the function list offers the published names
        assert page.locator("#fn-list option[value='messages:list']").count() == 1
        page.get_by_role("button", name="Environment").click()
        page.locator("#env-name").fill("DASH_VAR")
        page.locator("#env-value").fill("from the dashboard")
        page.locator("#env-set").click()
        expect(page.locator("main")).to_contain_text("from the dashboard")
        env = httpx.get(f"{url}/api/pyconvex/env", headers={"Authorization": "Convex test-admin-key"}).json()
        assert env["variables"]["DASH_VAR"] == "from the dashboard"
        # a wrong key shows the key prompt, not data
        other = browser.new_page()
        other.goto(f"{url}/dashboard#key=wrong")
        expect(other.get_by_test_id("admin-key")).to_be_visible(timeout=10_000)
    finally:
        stop_server(proc)


def test_dashboard_logs_show_a_failure_with_its_traceback(tmp_path: Path, browser: Browser) -> None:
    proc, url = start_server(tmp_path / "db.sqlite3", FIXTURES / "isolation" / "convex")
    try:
        page = browser.new_page()
        page.goto(f"{url}/dashboard#key=test-admin-key")
        page.get_by_role("button", name="Logs").click()
        bad = httpx.post(f"{url}/api/action", json={"path": "limits:action_fails",
                                                     "args": {"key": "b"}}).json()
        assert bad["status"] == "error" and bad["errorMessage"].endswith("Server Error")
        request_id = bad["errorMessage"].split("Request ID: ")[1].split("]")[0]
        logs = page.get_by_test_id("logs")
        expect(logs).to_contain_text(f"[Request ID: {request_id}]", timeout=30_000)
        expect(logs).to_contain_text("Traceback (most recent call last)")
    finally:
        stop_server(proc)
