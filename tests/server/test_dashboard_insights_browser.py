"""The dashboard's newer pages in Chromium: the grid kept live over the sync protocol (the
official convex browser client with the admin key, no long poll), the Insights page (scans,
largest read sets, a document hot with write conflicts), a function's charts for the last
hour, an index's backfill with its progress, and every page by keyboard at 800 pixels."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from pyconvex.cli.commands.deploy import pack_functions
from pyconvex.database.schema_push import BACKFILL_PAGE_DONE
from tests.conftest import APP
from tests.server.inprocess import live_server

ADMIN = {"Authorization": "Convex test-admin-key"}


def open_dashboard(browser: Browser, url: str) -> tuple[Page, list[str], list[str]]:
    """The page, the errors it raised (and dialogs it opened), and the URLs it fetched."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    fetched: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: errors.append(f"dialog: {d.message}"))
    page.on("console", lambda m: errors.append(f"{m.text} at {m.location}") if m.type == "error" else None)
    page.on("request", lambda r: fetched.append(r.url))
    page.goto(f"{url}/dashboard#key=test-admin-key")
    return page, errors, fetched


def mutation(url: str, path: str, args: dict[str, object]) -> object:
    r = httpx.post(f"{url}/api/mutation", json={"path": path, "args": args})
    assert r.json()["status"] == "success", r.text
    return r.json()["value"]


def test_the_grid_is_live_over_the_sync_protocol(server: str, browser: Browser) -> None:
    url = server
    mutation(url, "channels:create", {"name": "general"})
    page, errors, fetched = open_dashboard(browser, url)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.locator("[data-table=channels]").click()
    expect(page.locator("#live")).to_have_text("● live")
    mutation(url, "channels:create", {"name": "random"})
    expect(page.get_by_test_id("documents")).to_contain_text("random")
    expect(page.locator("[data-count=channels]")).to_have_text("2")
    # a filter is live too: a new match shows up, a non-match does not
    page.get_by_role("button", name="+ Filter").click()
    page.get_by_label("Filter field").fill("name")
    page.get_by_label("Filter value").fill('"ops"')
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("tr.row")).to_have_count(0)
    mutation(url, "channels:create", {"name": "ops"})
    mutation(url, "channels:create", {"name": "other"})
    expect(page.locator("tr.row")).to_have_count(1)
    expect(page.get_by_test_id("documents")).to_contain_text("ops")
    expect(page.get_by_test_id("doc-count")).to_have_text("4 documents")
    # through the official client's WebSocket (/api/<version>/sync), never the long poll
    page.reload()
    page.locator("[data-table=channels]").click()
    expect(page.locator("#live")).to_have_text("● live")
    assert sockets and all(s.startswith(url.replace("http", "ws")) and s.endswith("/sync") for s in sockets)
    assert not [u for u in fetched if "/dashboard/watch" in u]
    assert errors == [], errors


def test_insights_name_the_scans_and_the_largest_read_sets(server: str, browser: Browser) -> None:
    url = server
    for name in ("a", "b", "c"):
        mutation(url, "channels:create", {"name": name})
    for _ in range(2):  # channels:list reads the whole table, no index range
        assert len(httpx.post(f"{url}/api/query", json={"path": "channels:list", "args": {}}).json()["value"]) == 3
    httpx.post(f"{url}/api/query", json={"path": "channels:by_name", "args": {"name": "a"}})  # by an index
    page, errors, _ = open_dashboard(browser, url)
    page.get_by_role("button", name="Insights").click()
    reads = page.get_by_test_id("insights-reads")
    row = reads.locator("tr", has_text="channels:list")
    expect(row.locator("td").nth(2)).to_have_text("2")  # calls
    expect(row.locator("td").nth(3)).to_have_text("6")  # 2 calls x 3 documents
    unindexed = page.get_by_test_id("insights-unindexed")
    expect(unindexed).to_contain_text("channels:list")
    expect(unindexed).not_to_contain_text("channels:by_name")
    largest = page.get_by_test_id("insights-largest").locator("tbody tr").first
    expect(largest).to_contain_text("channels:list")
    expect(largest.locator("td").nth(1)).to_have_text("3")
    expect(page.get_by_test_id("insights-conflicts")).to_contain_text("No conflicts.")
    assert errors == [], errors


def test_a_function_shows_its_last_hour_in_charts(server: str, browser: Browser) -> None:
    url = server
    for name in ("a", "b", "c"):
        mutation(url, "channels:create", {"name": name})
    page, errors, _ = open_dashboard(browser, url)
    page.get_by_role("button", name="Run a function").click()
    page.locator("[data-fn='channels:create']").click()
    totals = page.get_by_test_id("fn-totals").locator("tbody td")
    expect(totals.nth(0)).to_have_text("3")  # calls
    expect(totals.nth(1)).to_have_text("0")  # errors
    expect(totals.nth(5)).to_have_text("3")  # documents written
    for chart in ("chart-calls", "chart-latency", "chart-documents"):
        expect(page.get_by_test_id(chart).locator("canvas")).to_have_count(1)
    expect(page.get_by_test_id("chart-calls")).to_contain_text("calls: peak")
    # a function never called says so
    page.locator("[data-fn='channels:by_name']").click()
    expect(page.get_by_test_id("fn-metrics")).to_contain_text("No calls in the last hour.")
    assert errors == [], errors


PAGES = {"Data": "Data", "Run a function": "Run a function", "Logs": "Logs", "Schedules": "Scheduled functions",
         "Cron jobs": "Cron jobs", "Files": "Files", "Environment": "Environment variables",
         "Snapshots": "Snapshots", "Health": "Health", "Insights": "Insights"}


def test_every_page_and_a_document_by_keyboard_alone_at_800_pixels(server: str, browser: Browser) -> None:
    url = server
    mutation(url, "channels:create", {"name": "general"})
    page, errors, _ = open_dashboard(browser, url)
    page.set_viewport_size({"width": 800, "height": 800})
    expect(page.get_by_role("heading", name="Data")).to_be_visible()
    page.evaluate("document.activeElement.blur()")
    for label, heading in PAGES.items():  # Tab moves through the page list in order
        for _ in range(3):  # the skip link comes first
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.textContent") == label:
                break
        assert page.evaluate("document.activeElement.dataset.view") is not None, label
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name=heading).first).to_be_visible()
        expect(page.locator("nav.pages [aria-current=page]")).to_have_text(label)
        # readable at 800 pixels wide: nothing pushes the page sideways
        assert page.evaluate("document.documentElement.scrollWidth") <= 800, label
    # a document: Tab to its row, Enter opens it, Escape closes it
    page.locator("[data-view=data]").press("Enter")
    page.locator("[data-table=channels]").press("Enter")
    expect(page.locator("tr.row")).to_have_count(1)
    page.locator("tr.row").first.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("doc-editor")).to_contain_text('"name": "general"')
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("doc-panel")).to_have_count(0)
    assert errors == [], errors


def test_a_document_hot_with_write_conflicts_is_named_on_the_insights_page(server: str, browser: Browser) -> None:
    url = server
    mutation(url, "counters:increment", {"name": "hot"})

    def writer() -> None:
        with httpx.Client(timeout=60) as client:
            for _ in range(10):
                client.post(f"{url}/api/mutation", json={"path": "counters:increment", "args": {"name": "hot"}})

    report: dict[str, Any] = {}
    for _ in range(20):  # rounds of concurrent writers on one document, until one has lost a race
        threads = [threading.Thread(target=writer) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        report = httpx.get(f"{url}/api/pyconvex/dashboard/insights", headers=ADMIN).json()
        if report["conflicts"]:
            break
    assert report["conflicts"], "no write conflict in 20 rounds of 8 concurrent writers"
    hot = report["conflicts"][0]
    page, errors, _ = open_dashboard(browser, url)
    page.get_by_role("button", name="Insights").click()
    row = page.get_by_test_id("insights-conflicts").locator("tbody tr").first
    cells = row.locator("td")
    expect(cells.nth(0)).to_have_text("counters")
    expect(cells.nth(2)).to_have_text(hot["documentId"])
    expect(cells.nth(3)).to_have_text(f"{hot['conflicts']:,}")
    expect(cells.nth(4)).to_have_text(f"counters:increment ({hot['functions']['counters:increment']})")
    assert errors == [], errors


def test_a_backfill_shows_its_progress_in_the_schema_view(tmp_path: Path, browser: Browser) -> None:
    """The real backfill of a deployed index, held after its first page (512 of 3,000
    documents) by the engine's pause point: the schema view shows the index backfilling
    with its progress; released, the index turns enabled."""
    functions = tmp_path / "convex"
    shutil.copytree(APP, functions)
    with live_server(tmp_path / "db.sqlite3", functions) as srv:
        url = srv.url
        for start in range(0, 3000, 1000):
            r = httpx.post(f"{url}/api/pyconvex/dashboard/insert", headers=ADMIN, timeout=60, json={
                "table": "items", "documents": [{"n": float(i), "tag": f"t{i % 7}"} for i in range(start, start + 1000)]})
            assert r.status_code == 200, r.text
        page, errors, _ = open_dashboard(browser, url)
        expect(page.locator("[data-count=items]")).to_have_text("3,000")  # counted: the total is known
        page.locator("[data-table=items]").click()
        hold = srv.deployment.db.pauses.hold(BACKFILL_PAGE_DONE)
        schema = functions / "schema.py"
        schema.write_text(schema.read_text().replace(
            '.index("by_category", ["meta.category"])',
            '.index("by_category", ["meta.category"]).index("by_tag_only", ["tag"])'))
        deployed: list[httpx.Response] = []
        deploy = threading.Thread(target=lambda: deployed.append(httpx.post(
            f"{url}/api/pyconvex/deploy", content=pack_functions(functions), headers=ADMIN, timeout=120)))
        deploy.start()
        try:
            state = page.locator("[data-index-state=by_tag_only]")
            expect(state).to_contain_text("backfilling", timeout=30_000)  # the schema view opens itself
            expect(state).to_contain_text("512 of 3,000")
            expect(state.get_by_role("progressbar", name="Backfill of by_tag_only: 512 of 3,000")).to_be_visible()
        finally:
            hold.release_from_another_thread()
            deploy.join(120)
        assert deployed and deployed[0].status_code == 200, deployed
        expect(state).to_have_text("enabled", timeout=30_000)
        assert errors == [], errors


def test_sort_by_an_index_either_way(server: str, browser: Browser) -> None:
    url = server
    r = httpx.post(f"{url}/api/pyconvex/dashboard/insert", headers=ADMIN, json={
        "table": "items", "documents": [{"n": float(n), "tag": "t"} for n in (5, 1, 9, 3)]})
    assert r.status_code == 200, r.text
    page, errors, _ = open_dashboard(browser, url)
    page.locator("[data-table=items]").click()
    n_column = page.locator("tr.row td:nth-child(3)")
    expect(n_column).to_have_text(["3", "9", "1", "5"])  # newest first
    page.get_by_label("Sort by index").select_option("by_n")
    expect(page.get_by_test_id("plan")).to_contain_text("by_n")
    expect(n_column).to_have_text(["9", "5", "3", "1"])
    page.get_by_label("Order").select_option("asc")
    expect(n_column).to_have_text(["1", "3", "5", "9"])
    assert errors == [], errors
