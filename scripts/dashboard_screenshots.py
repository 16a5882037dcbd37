"""Take the screenshots docs/dashboard.md shows: a real server with the test fixture app,
some data, a failed function, a scheduled job and a file, captured in Chromium.

    .venv/bin/python scripts/dashboard_screenshots.py
"""

from __future__ import annotations

import base64
import sys
import tempfile
from pathlib import Path

import httpx
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import FIXTURES, start_server, stop_server  # noqa: E402

OUT = ROOT / "docs" / "images"
ADMIN = {"Authorization": "Convex test-admin-key"}
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp) / "db.sqlite3", FIXTURES / "app" / "convex")
        try:
            for start in range(0, 5000, 1000):
                httpx.post(f"{url}/api/pyconvex/dashboard/insert", headers=ADMIN, json={
                    "table": "items",
                    "documents": [{"n": float(i), "tag": ["red", "green", "blue"][i % 3],
                                   **({"meta": {"category": "c" + str(i % 4)}} if i % 2 else {})}
                                  for i in range(start, start + 1000)]}).raise_for_status()
            for name in ("general", "random", "design"):
                httpx.post(f"{url}/api/mutation", json={"path": "channels:create", "args": {"name": name}})
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                page.goto(f"{url}/dashboard#key=test-admin-key")
                page.locator("[data-table=items]").click()
                page.get_by_role("button", name="+ Filter").click()
                page.get_by_label("Filter field").fill("tag")
                page.get_by_label("Filter value").fill('"green"')
                page.get_by_role("button", name="Apply").click()
                expect(page.get_by_test_id("plan")).to_contain_text("by_tag_n")
                page.locator("tr.row").first.click()
                page.get_by_test_id("doc-editor").fill('{"n": "forty", "tag": "green"}')
                page.get_by_role("button", name="Save").click()
                expect(page.get_by_test_id("doc-error")).to_contain_text("schema")
                page.screenshot(path=str(OUT / "dashboard-data.png"), full_page=True)
                page.get_by_role("button", name="Run a function").click()
                page.locator("[data-fn='channels:create']").click()
                page.locator("[data-arg=name]").fill("announcements")
                page.get_by_role("button", name="Run", exact=True).click()
                expect(page.get_by_test_id("run-time")).to_contain_text("ms")
                page.screenshot(path=str(OUT / "dashboard-functions.png"), full_page=True)
                page.get_by_role("button", name="Logs").click()
                expect(page.get_by_test_id("logs")).to_contain_text("channels:create")
                page.screenshot(path=str(OUT / "dashboard-logs.png"), full_page=True)
                page.get_by_role("button", name="Health").click()
                expect(page.get_by_test_id("health")).to_contain_text("Documents")
                page.screenshot(path=str(OUT / "dashboard-health.png"), full_page=True)
                browser.close()
        finally:
            stop_server(proc)
        proc, url = start_server(Path(tmp) / "sched.sqlite3", FIXTURES / "schedapp" / "convex")
        try:
            for i, delay in enumerate((60_000, 3_600_000, 0)):
                httpx.post(f"{url}/api/mutation", json={"path": "tasks:schedule",
                                                         "args": {"delay": delay, "text": f"job {i}"}})
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 600})
                page.goto(f"{url}/dashboard#key=test-admin-key")
                page.get_by_role("button", name="Schedules").click()
                expect(page.get_by_test_id("schedules")).to_contain_text("pending")
                page.screenshot(path=str(OUT / "dashboard-schedules.png"), full_page=True)
                browser.close()
        finally:
            stop_server(proc)
        proc, url = start_server(Path(tmp) / "files.sqlite3", FIXTURES / "filesapp" / "convex")
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 500})
                page.goto(f"{url}/dashboard#key=test-admin-key")
                page.get_by_role("button", name="Files").click()
                picture = Path(tmp) / "dot.png"
                picture.write_bytes(PNG)
                page.get_by_label("File to upload").set_input_files(str(picture))
                page.get_by_role("button", name="Upload", exact=True).click()
                expect(page.locator("[data-file]")).to_have_count(1)
                page.set_viewport_size({"width": 800, "height": 500})
                page.screenshot(path=str(OUT / "dashboard-files-800px.png"), full_page=True)
                browser.close()
        finally:
            stop_server(proc)


if __name__ == "__main__":
    main()
