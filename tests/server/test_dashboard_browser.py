"""The dashboard's pages in Chromium, doing what a user does and checking what they see:
filter (on an index, and where none fits), edit a document and see the schema's error,
add, delete several, clear a table, watch a change arrive live, look back in time, page
through a large table; run a function from its generated form; filter logs; cancel a
scheduled job; upload, preview and delete a file; the health page."""

from __future__ import annotations

import base64
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.cli.devproc import CLI, DevProcess
from tests.conftest import FIXTURES, server_output, start_server, stop_server

ADMIN = {"Authorization": "Convex test-admin-key"}
# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture
def app_server(tmp_path: Path) -> Iterator[str]:
    proc, url = start_server(tmp_path / "db.sqlite3")
    try:
        yield url
    finally:
        stop_server(proc)


def insert(url: str, table: str, docs: list[dict[str, object]]) -> list[str]:
    r = httpx.post(f"{url}/api/pyconvex/dashboard/insert", json={"table": table, "documents": docs},
                   headers=ADMIN, timeout=60)
    assert r.status_code == 200, r.text
    ids: list[str] = r.json()["ids"]
    return ids


def open_dashboard(browser: Browser, url: str) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: errors.append(f"dialog: {d.message}"))  # no alert() ever
    page.goto(f"{url}/dashboard#key=test-admin-key")
    page.errors = errors  # type: ignore[attr-defined]
    return page


def open_table(page: Page, table: str) -> None:
    page.locator(f"[data-table={table}]").click()
    expect(page.get_by_test_id("table-title")).to_have_text(table)


def grid_text(page: Page) -> str:
    return page.get_by_test_id("documents").inner_text()


def test_data_filter_edit_add_delete_clear(app_server: str, browser: Browser) -> None:
    url = app_server
    insert(url, "items", [{"n": float(i), "tag": "odd" if i % 2 else "even"} for i in range(20)])
    page = open_dashboard(browser, url)
    expect(page.locator("[data-count=items]")).to_have_text("20", timeout=10_000)
    open_table(page, "items")
    expect(page.get_by_test_id("doc-count")).to_have_text("20 documents")
    # a filter an index answers: tag == "odd" and n > 10 (by_tag_n)
    page.get_by_role("button", name="+ Filter").click()
    page.get_by_label("Filter field").last.fill("tag")
    page.get_by_label("Filter value").last.fill('"odd"')
    page.get_by_role("button", name="+ Filter").click()
    page.get_by_label("Filter field").last.fill("n")
    page.get_by_label("Filter operator").last.select_option("gt")
    page.get_by_label("Filter value").last.fill("10")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("plan")).to_contain_text("Index by_tag_n answers the whole filter")
    expect(page.locator("tr.row")).to_have_count(5)  # 11, 13, 15, 17, 19
    assert "even" not in grid_text(page)
    # a filter no index fits says so, and still answers
    while page.get_by_label("Remove filter").count():
        page.get_by_label("Remove filter").first.click()
    page.get_by_role("button", name="+ Filter").click()
    page.get_by_label("Filter field").last.fill("meta")
    page.get_by_label("Filter operator").last.select_option("neq")
    page.get_by_label("Filter value").last.fill("1")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("plan")).to_contain_text("No index fits the filter on meta")
    expect(page.locator("tr.row")).to_have_count(20)
    page.get_by_label("Remove filter").click()
    page.get_by_role("button", name="Apply").click()

    # edit a document: the schema's error shows next to it, nothing is written
    page.locator("tr.row").first.click()  # newest first: n = 19
    editor = page.get_by_test_id("doc-editor")
    expect(editor).to_contain_text('"n": 19')
    editor.fill('{"n": "nineteen", "tag": "odd"}')
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("doc-error")).to_contain_text("does not match the schema")
    expect(page.get_by_test_id("doc-error")).to_contain_text("n: expected number")
    editor.fill('{"n": 190, "tag": "edited"}')
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("doc-error")).to_have_text("")
    expect(page.get_by_test_id("documents")).to_contain_text("edited")  # the grid is live

    # add a document, and one the schema refuses
    page.get_by_role("button", name="Add documents").click()
    page.get_by_label("New documents JSON").fill('[{"n": 1000, "tag": "new"}, {"n": 1001, "tag": "new"}]')
    page.get_by_role("button", name="Insert").click()
    expect(page.get_by_test_id("status")).to_contain_text("Inserted 2 documents")
    expect(page.get_by_test_id("doc-count")).to_have_text("22 documents")
    page.get_by_role("button", name="Add documents").click()
    page.get_by_label("New documents JSON").fill('{"tag": "no n"}')
    page.get_by_role("button", name="Insert").click()
    expect(page.get_by_test_id("add-error")).to_contain_text("does not match the schema")

    # delete two at once
    rows = page.locator("tr.row")
    expect(rows).to_have_count(22)
    rows.nth(0).locator("input[type=checkbox]").check()
    rows.nth(1).locator("input[type=checkbox]").check()
    page.get_by_role("button", name="Delete selected (2)").click()
    expect(page.get_by_test_id("delete-panel")).to_contain_text("Delete 2 documents from items?")
    page.get_by_role("button", name="Delete 2").click()
    expect(page.get_by_test_id("doc-count")).to_have_text("20 documents")
    assert "new" not in grid_text(page).split()

    # clear the table: the confirmation names it, and is refused until it is typed
    page.get_by_role("button", name="Clear table").click()
    expect(page.get_by_test_id("clear-panel")).to_contain_text("every document of items")
    confirm = page.get_by_role("button", name="Clear items")
    expect(confirm).to_be_disabled()
    page.get_by_label("Table name to confirm").fill("items")
    confirm.click()
    expect(page.get_by_test_id("status")).to_contain_text("Cleared items: 20 documents deleted")
    expect(page.get_by_test_id("doc-count")).to_have_text("0 documents")
    expect(page.locator("tr.row")).to_have_count(0)
    r = httpx.get(f"{url}/api/pyconvex/dashboard/documents", params={"table": "items"}, headers=ADMIN)
    assert r.json()["page"] == []
    assert page.errors == []  # type: ignore[attr-defined]


def test_grid_updates_live(app_server: str, browser: Browser) -> None:
    url = app_server
    httpx.post(f"{url}/api/mutation", json={"path": "channels:create", "args": {"name": "general"}})
    page = open_dashboard(browser, url)
    open_table(page, "channels")
    expect(page.get_by_test_id("documents")).to_contain_text("general")
    expect(page.locator("#live")).to_contain_text("live")
    # a client's mutation shows up without a reload, with the count
    httpx.post(f"{url}/api/mutation", json={"path": "channels:create", "args": {"name": "random"}})
    expect(page.get_by_test_id("documents")).to_contain_text("random")
    expect(page.locator("[data-count=channels]")).to_have_text("2")
    expect(page.get_by_test_id("doc-count")).to_have_text("2 documents")
    # by keyboard: focus the first row, move down, open it
    page.locator("tr.row").first.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("doc-editor")).to_contain_text('"name": "general"')


def test_time_travel_shows_the_earlier_state(app_server: str, browser: Browser) -> None:
    url = app_server
    httpx.post(f"{url}/api/mutation", json={"path": "channels:create", "args": {"name": "first"}})
    time.sleep(1.1)  # the "as of" input has second precision
    page = open_dashboard(browser, url)
    moment = page.evaluate("Date.now()")
    time.sleep(1.1)
    httpx.post(f"{url}/api/mutation", json={"path": "channels:create", "args": {"name": "second"}})
    open_table(page, "channels")
    expect(page.locator("tr.row")).to_have_count(2)
    stamp = page.evaluate(
        "(ms) => { const d = new Date(ms); const p = (n) => String(n).padStart(2, '0');"
        " return `${d.getFullYear()}-${p(d.getMonth()+1)}-${p(d.getDate())}T${p(d.getHours())}:"
        "${p(d.getMinutes())}:${p(d.getSeconds())}`; }", moment)
    page.get_by_label("As of").fill(stamp)
    expect(page.locator("tr.row")).to_have_count(1)
    assert "first" in grid_text(page) and "second" not in grid_text(page)
    expect(page.get_by_test_id("grid-foot")).to_contain_text("as of")
    page.get_by_role("button", name="Now").click()
    expect(page.locator("tr.row")).to_have_count(2)


def test_grid_pages_a_large_table_rendering_only_what_is_visible(app_server: str, browser: Browser) -> None:
    url = app_server
    total = 3000
    for start in range(0, total, 1000):
        insert(url, "items", [{"n": float(i), "tag": "t"} for i in range(start, start + 1000)])
    page = open_dashboard(browser, url)
    open_table(page, "items")
    expect(page.get_by_test_id("doc-count")).to_have_text("3,000 documents")
    expect(page.get_by_test_id("grid-foot")).to_contain_text("200 loaded")
    grid = page.locator("#grid")
    # scroll to the end, page after page, until the oldest document (n = 0) shows
    for _ in range(40):
        grid.evaluate("g => { g.scrollTop = g.scrollHeight; g.dispatchEvent(new Event('scroll')); }")
        if "(all)" in page.get_by_test_id("grid-foot").inner_text():
            break
        page.wait_for_timeout(100)
    expect(page.get_by_test_id("grid-foot")).to_contain_text("3,000 loaded (all)")
    grid.evaluate("g => { g.scrollTop = g.scrollHeight; g.dispatchEvent(new Event('scroll')); }")
    expect(page.locator("tr.row").last).to_contain_text("t")
    last_n = page.locator("tr.row").last.locator("td").nth(2).inner_text()
    assert last_n == "0"
    assert page.locator("tr.row").count() < 200  # only the visible window is in the page


def test_functions_run_from_the_generated_form(app_server: str, browser: Browser) -> None:
    url = app_server
    page = open_dashboard(browser, url)
    page.get_by_role("button", name="Run a function").click()
    listing = page.get_by_test_id("function-list")
    expect(listing).to_contain_text("channels")
    page.locator("[data-fn='channels:create']").click()
    expect(page.get_by_test_id("fn-info")).to_contain_text("Mutation, public, args: { name: string }")
    page.locator("[data-arg=name]").fill("from-the-form")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_test_id("run-time")).to_contain_text("ms round trip")
    result = page.get_by_test_id("result")
    expect(result).not_to_be_empty()
    assert "Error" not in result.inner_text()
    listed = httpx.post(f"{url}/api/query", json={"path": "channels:list", "args": {}}).json()["value"]
    assert [c["name"] for c in listed] == ["from-the-form"]
    # as a given user: messages:send records the identity's name as the author
    page.locator("[data-fn='messages:send']").click()
    page.locator("[data-arg=channelId]").fill(listed[0]["_id"])
    page.locator("[data-arg=text]").fill("hello as Ada")
    page.get_by_label("Act as identity").fill('{"subject": "u1", "name": "Ada"}')
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_test_id("run-logs")).to_contain_text("[LOG] 'sending' 'hello as Ada'")
    sent = httpx.post(f"{url}/api/query", json={"path": "messages:list",
                                                "args": {"channelId": listed[0]["_id"]}}).json()["value"]
    assert [(m["text"], m.get("author")) for m in sent] == [("hello as Ada", "Ada")]
    page.get_by_label("Act as identity").fill("")
    # a missing required argument: the function's validator answers, shown in the result
    page.locator("[data-fn='channels:create']").click()
    page.get_by_role("button", name="Run", exact=True).click()
    expect(result).to_contain_text("Error")


def test_logs_filter_by_status_function_and_text(tmp_path: Path, browser: Browser) -> None:
    proc, url = start_server(tmp_path / "db.sqlite3", FIXTURES / "isolation" / "convex")
    try:
        bad = httpx.post(f"{url}/api/action", json={"path": "limits:action_fails", "args": {"key": "b"}},
                         timeout=60).json()  # an action worker's cold start can pass 5 s under load
        request_id = bad["errorMessage"].split("Request ID: ")[1].split("]")[0]
        page = open_dashboard(browser, url)
        page.get_by_role("button", name="Logs").click()
        logs = page.get_by_test_id("logs")
        expect(logs).to_contain_text(f"[Request ID: {request_id}]", timeout=30_000)  # history
        page.get_by_label("Filter by status").select_option("success")
        expect(logs).not_to_contain_text(request_id)
        page.get_by_label("Filter by status").select_option("failure")
        expect(logs).to_contain_text(request_id)
        page.get_by_label("Filter by level").select_option("ERROR")
        expect(logs).to_contain_text(request_id)
        page.get_by_label("Filter by level").select_option("DEBUG")
        expect(page.locator(".log-entry")).to_have_count(0)
        page.get_by_label("Filter by level").select_option("")
        page.get_by_label("Filter by request id").fill(request_id)
        expect(page.locator(".log-entry")).to_have_count(1)
        page.get_by_label("Filter by request id").fill(request_id + "x")
        expect(page.locator(".log-entry")).to_have_count(0)
        page.get_by_label("Filter by request id").fill("")
        page.get_by_label("Filter by text").fill("no-such-text-anywhere")
        expect(page.locator(".log-entry")).to_have_count(0)
        page.get_by_label("Filter by text").fill(request_id)
        expect(page.locator(".log-entry")).to_have_count(1)
        # the traceback is folded until asked for
        entry = page.locator(".log-entry").first
        expect(entry.locator("details pre")).not_to_be_visible()
        entry.get_by_text("traceback", exact=True).click()
        expect(entry.locator("details pre")).to_contain_text("Traceback (most recent call last)")
    finally:
        stop_server(proc)


def test_schedules_cancel_and_crons(tmp_path: Path, browser: Browser) -> None:
    proc, url = start_server(tmp_path / "db.sqlite3", FIXTURES / "schedapp" / "convex")
    try:
        job = httpx.post(f"{url}/api/mutation", json={"path": "tasks:schedule",
                                                       "args": {"delay": 3_600_000, "text": "later"}}).json()["value"]
        page = open_dashboard(browser, url)
        page.get_by_role("button", name="Schedules").click()
        row = page.locator(f"[data-job='{job}']")
        expect(row.locator(".state")).to_have_text("pending")
        expect(row).to_contain_text('"text":"later"')
        row.get_by_role("button", name="Cancel").click()
        expect(row.locator(".state")).to_have_text("canceled")
        state = httpx.post(f"{url}/api/query", json={"path": "tasks:job", "args": {"id": job}}).json()
        assert state["value"]["state"]["kind"] == "canceled"
        page.get_by_label("Filter by state").select_option("pending")
        expect(page.locator(f"[data-job='{job}']")).to_have_count(0)
        page.get_by_role("button", name="Cron jobs").click()
        crons = page.get_by_test_id("crons")
        expect(crons).to_contain_text("tick")
        expect(crons).to_contain_text("noon")
    finally:
        stop_server(proc)


def test_files_upload_preview_download_delete(tmp_path: Path, browser: Browser) -> None:
    proc, url = start_server(tmp_path / "db.sqlite3", FIXTURES / "filesapp" / "convex")
    try:
        page = open_dashboard(browser, url)
        page.get_by_role("button", name="Files").click()
        picture = tmp_path / "dot.png"
        picture.write_bytes(PNG)
        page.get_by_label("File to upload").set_input_files(str(picture))
        page.get_by_role("button", name="Upload", exact=True).click()
        row = page.locator("[data-file]")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("image/png")
        expect(row).to_contain_text(f"{len(PNG)} B")
        preview = row.locator("img.preview")
        expect(preview).to_be_visible()
        assert preview.evaluate("img => img.naturalWidth") == 1  # the bytes came back
        with page.expect_download() as download:
            row.get_by_role("link", name="Download").click()
        assert Path(download.value.path()).read_bytes() == PNG
        sid = row.get_attribute("data-file")
        row.get_by_role("button", name="Delete").click()
        expect(page.locator("[data-file]")).to_have_count(0)
        assert httpx.get(f"{url}/api/storage/{sid}").status_code == 404
    finally:
        stop_server(proc)


def test_health_and_environment_validation(app_server: str, browser: Browser) -> None:
    url = app_server
    httpx.post(f"{url}/api/mutation", json={"path": "channels:create", "args": {"name": "general"}})
    page = open_dashboard(browser, url)
    page.get_by_role("button", name="Health").click()
    health = page.get_by_test_id("health")
    expect(health).to_contain_text("Documents")
    expect(page.get_by_test_id("function-metrics")).to_contain_text("channels:create")
    httpx.post(f"{url}/api/query", json={"path": "channels:list", "args": {}})
    page.get_by_role("button", name="Health").click()
    expect(page.get_by_test_id("insights")).to_contain_text("channels:list: 1 documents")
    expect(health).to_contain_text("Database size")
    assert "n/a" not in page.locator(".card", has_text="Database size").inner_text()  # SQLite's files
    # the chart counts both calls (channels:create and list) and nothing else, the last one in
    # this minute's bar; the two calls may fall on either side of a minute's turn
    titles = page.get_by_test_id("calls-chart").locator("rect title").all_text_contents()
    counts = {t.split(": ")[0]: int(t.split(": ")[1]) for t in titles}
    assert sum(counts.values()) == 2, titles
    assert counts["0 min ago"] >= 1, titles
    page.get_by_role("button", name="Environment").click()
    page.get_by_label("Variable name").fill("1BAD NAME")
    expect(page.get_by_test_id("env-error")).to_contain_text("letters, digits and underscores")
    page.get_by_role("button", name="Set").click()
    env = httpx.get(f"{url}/api/pyconvex/env", headers=ADMIN).json()["variables"]
    assert "1BAD NAME" not in env
    page.set_viewport_size({"width": 800, "height": 800})  # readable narrow: nothing overflows
    page.get_by_role("button", name="Data").click()
    expect(page.get_by_test_id("table-title")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 800
    assert page.errors == []  # type: ignore[attr-defined]


def test_serve_and_dev_print_a_dashboard_link_that_opens_it(tmp_path: Path, browser: Browser) -> None:
    proc, url = start_server(tmp_path / "db.sqlite3")
    try:
        deadline = time.monotonic() + 20
        while "dashboard at" not in server_output(proc) and time.monotonic() < deadline:
            time.sleep(0.05)
        line = next(x for x in server_output(proc).splitlines() if "dashboard at" in x)
        link = line.split("dashboard at ")[1].strip()
        assert link == f"{url}/dashboard#key=test-admin-key"
        page = browser.new_page()
        page.goto(link)
        expect(page.locator("[data-table=channels]")).to_be_visible(timeout=10_000)
        assert "#key" not in page.url  # the key left the address bar
    finally:
        stop_server(proc)
    subprocess.run([*CLI, "init", str(tmp_path / "app")], check=True, capture_output=True)
    dev = DevProcess(tmp_path / "app")
    try:
        link = dev.expect("Dashboard:").split("Dashboard:")[1].strip()
        assert link.startswith(f"{dev.url}/dashboard#key=")
        page = browser.new_page()
        page.goto(link)
        expect(page.get_by_test_id("admin-key")).to_be_hidden()
        expect(page.get_by_role("heading", name="Data")).to_be_visible(timeout=10_000)
    finally:
        dev.stop()


def test_snapshot_export_then_import_into_another_deployment(tmp_path: Path, browser: Browser) -> None:
    proc, url = start_server(tmp_path / "a.sqlite3")
    other, other_url = start_server(tmp_path / "b.sqlite3")
    try:
        for name in ("general", "random"):
            httpx.post(f"{url}/api/mutation", json={"path": "channels:create", "args": {"name": name}})
        page = open_dashboard(browser, url)
        page.get_by_role("button", name="Snapshots").click()
        with page.expect_download() as download:
            page.get_by_role("button", name="Export").click()
        expect(page.get_by_test_id("export-status")).to_contain_text("exported")
        snapshot = tmp_path / "snapshot.zip"
        download.value.save_as(snapshot)
        target = open_dashboard(browser, other_url)
        target.get_by_role("button", name="Snapshots").click()
        target.get_by_label("Snapshot to import").set_input_files(str(snapshot))
        target.get_by_role("button", name="Import", exact=True).click()
        expect(target.get_by_test_id("import-status")).to_contain_text("Imported: channels (2)")
        names = httpx.post(f"{other_url}/api/query", json={"path": "channels:list", "args": {}}).json()["value"]
        assert sorted(c["name"] for c in names) == ["general", "random"]
        # a file that is no snapshot: the error shows on the page
        bad = tmp_path / "bad.zip"
        bad.write_bytes(b"not a zip")
        target.get_by_label("Snapshot to import").set_input_files(str(bad))
        target.get_by_role("button", name="Import", exact=True).click()
        expect(target.get_by_test_id("import-status")).to_have_class("error")
        assert target.errors == []  # type: ignore[attr-defined]
    finally:
        stop_server(other)
        stop_server(proc)
