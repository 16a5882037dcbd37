"""Take the screenshots docs/dashboard.md shows, one or more per page: a real server with
the test fixture apps, some data, function calls (one failing), a backfilling index,
scheduled jobs and crons, a file, captured in Chromium at 1280 (and 800) pixels wide.

    make dashboard && .venv/bin/python scripts/dashboard_screenshots.py
"""

from __future__ import annotations

import base64
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyconvex.cli.commands.deploy import pack_functions  # noqa: E402
from tests.conftest import FIXTURES, start_server, stop_server  # noqa: E402

OUT = ROOT / "docs" / "images"
ADMIN = {"Authorization": "Convex test-admin-key"}
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@contextmanager
def dashboard(db: Path, functions: Path, width: int = 1280, height: int = 860) -> Iterator[tuple[str, Page]]:
    proc, url = start_server(db, functions)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": width, "height": height})
            yield url, page
            browser.close()
    finally:
        stop_server(proc)


def open_page(url: str, page: Page) -> None:
    page.goto(f"{url}/dashboard#key=test-admin-key")
    expect(page.get_by_role("heading", name="Data")).to_be_visible()


def shoot(page: Page, name: str) -> None:
    page.wait_for_timeout(200)
    page.screenshot(path=str(OUT / f"dashboard-{name}.png"), full_page=True)


def visit(page: Page, button: str, testid: str, shows: str, name: str) -> None:
    """Open a page from the page list, wait until ``testid`` shows ``shows``, capture it."""
    page.get_by_role("button", name=button).click()
    expect(page.get_by_test_id(testid)).to_contain_text(shows)
    shoot(page, name)


def insert_items(url: str, total: int) -> None:
    with httpx.Client(timeout=120, headers=ADMIN) as client:
        for start in range(0, total, 1000):
            client.post(f"{url}/api/pyconvex/dashboard/insert", json={
                "table": "items",
                "documents": [{"n": float(i), "tag": ["red", "green", "blue"][i % 3],
                               **({"meta": {"category": "c" + str(i % 4)}} if i % 2 else {})}
                              for i in range(start, min(total, start + 1000))]}).raise_for_status()


def app_pages(tmp: Path) -> None:
    with dashboard(tmp / "db.sqlite3", FIXTURES / "app" / "convex") as (url, page):
        insert_items(url, 5000)
        for name in ("general", "random", "design"):
            httpx.post(f"{url}/api/mutation", json={"path": "channels:create", "args": {"name": name}})
        for _ in range(3):
            httpx.post(f"{url}/api/query", json={"path": "channels:list", "args": {}})
        httpx.post(f"{url}/api/mutation", json={"path": "channels:create", "args": {}})  # fails: no name
        open_page(url, page)
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
        shoot(page, "data")
        page.set_viewport_size({"width": 800, "height": 860})
        shoot(page, "data-800px")
        page.set_viewport_size({"width": 1280, "height": 860})
        page.get_by_role("button", name="Run a function").click()
        page.locator("[data-fn='channels:create']").click()
        page.locator("[data-arg=name]").fill("announcements")
        page.get_by_role("button", name="Run", exact=True).click()
        expect(page.get_by_test_id("run-time")).to_contain_text("ms")
        expect(page.get_by_test_id("chart-calls").locator("canvas")).to_have_count(1)
        shoot(page, "functions")
        visit(page, "Logs", "logs", "channels:create", "logs")
        visit(page, "Health", "health", "Documents", "health")
        visit(page, "Insights", "insights-reads", "channels:list", "insights")
        page.get_by_role("button", name="Environment").click()
        page.get_by_label("Variable name").fill("OPENAI_API_KEY")
        page.get_by_label("Variable value").fill("sk-test")
        page.get_by_role("button", name="Set").click()
        expect(page.get_by_test_id("env")).to_contain_text("OPENAI_API_KEY")
        page.get_by_label("Variable name").fill("2FAST")
        shoot(page, "env")
        page.get_by_role("button", name="Snapshots").click()
        with page.expect_download():
            page.get_by_role("button", name="Export").click()
        expect(page.get_by_test_id("export-status")).to_contain_text("exported")
        shoot(page, "snapshots")


def backfill_page(tmp: Path) -> None:
    functions = tmp / "backfill"
    shutil.copytree(FIXTURES / "app" / "convex", functions)
    with dashboard(tmp / "backfill.sqlite3", functions) as (url, page):
        insert_items(url, 100_000)
        open_page(url, page)
        page.locator("[data-table=items]").click()
        page.get_by_text("Schema and indexes").click()
        schema = functions / "schema.py"
        schema.write_text(schema.read_text().replace(
            '.index("by_category", ["meta.category"])',
            '.index("by_category", ["meta.category"]).index("by_tag_only", ["tag"])'))
        deploy = threading.Thread(target=lambda: httpx.post(
            f"{url}/api/pyconvex/deploy", content=pack_functions(functions), headers=ADMIN, timeout=600))
        deploy.start()
        page.locator("[data-index-state=by_tag_only] progress").wait_for(timeout=60_000)
        page.get_by_test_id("schema").scroll_into_view_if_needed()
        page.screenshot(path=str(OUT / "dashboard-backfill.png"))
        deploy.join()


def schedule_pages(tmp: Path) -> None:
    with dashboard(tmp / "sched.sqlite3", FIXTURES / "schedapp" / "convex", height=600) as (url, page):
        for i, delay in enumerate((60_000, 3_600_000, 0)):
            httpx.post(f"{url}/api/mutation", json={"path": "tasks:schedule",
                                                     "args": {"delay": delay, "text": f"job {i}"}})
        open_page(url, page)
        visit(page, "Schedules", "schedules", "pending", "schedules")
        visit(page, "Cron jobs", "crons", "tick", "crons")


def files_page(tmp: Path) -> None:
    with dashboard(tmp / "files.sqlite3", FIXTURES / "filesapp" / "convex", height=500) as (url, page):
        open_page(url, page)
        page.get_by_role("button", name="Files").click()
        picture = tmp / "dot.png"
        picture.write_bytes(PNG)
        page.get_by_label("File to upload").set_input_files(str(picture))
        page.get_by_role("button", name="Upload", exact=True).click()
        expect(page.locator("[data-file]")).to_have_count(1)
        page.set_viewport_size({"width": 800, "height": 500})
        shoot(page, "files-800px")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        app_pages(tmp)
        schedule_pages(tmp)
        files_page(tmp)
        backfill_page(tmp)


if __name__ == "__main__":
    main()
