"""The dashboard in Chromium on a 100,000-document table: time to the first rows, and
commit-to-grid latency for a live change.

First rows: from clicking the table's name to the first row in the grid (the page asks
for one page by cursor, the count is already known). Baseline in the same run: the same
page fetched by the page's own ``fetch`` without rendering. Cold: the first visit after
the server starts (page load, click, first rows; the table's count, a scan of its
``by_id`` keys done once, arrives on its own), timed from Playwright (whose click waits
for the button to be stable over animation frames) and, on a second fresh start, in the
page itself (navigation start to the first row, the page clicking the table as soon as
its button exists).

Live: an insert sent from the page, until its row shows in the grid (the grid's sync
subscription, through the official convex browser client, gets the new first page pushed).
Baseline: the insert's own round trip (commit acknowledged).

    .venv/bin/python bench/dashboard.py --docs 100000 --runs 9
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import start_server, stop_server

APP = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "app" / "convex"
ADMIN = {"Authorization": "Convex test-admin-key"}
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

FIRST_ROWS = """async (table) => {
  const other = document.querySelector('[data-table=channels]');
  other.click();
  while (document.querySelector('[data-testid=table-title]')?.textContent !== 'channels'
         || document.querySelector('tr.row')) await new Promise((r) => setTimeout(r, 5));
  const t0 = performance.now();
  document.querySelector(`[data-table=${table}]`).click();
  while (!document.querySelector('tr.row')) await new Promise((r) => requestAnimationFrame(r));
  return performance.now() - t0;
}"""

COLD_IN_PAGE = """window.__firstRows = new Promise((resolve) => {
  const look = () => {
    const button = document.querySelector('[data-table=items]');
    if (!button) return requestAnimationFrame(look);
    button.click();
    const rows = () => {
      if (document.querySelector('[data-testid=table-title]')?.textContent === 'items'
          && document.querySelector('tr.row')) resolve(performance.now());
      else requestAnimationFrame(rows);
    };
    rows();
  };
  look();
});"""

RAW_FETCH = """async (table) => {
  const t0 = performance.now();
  const r = await fetch(`/api/pyconvex/dashboard/documents?table=${table}&numItems=200&order=desc`,
                        { headers: { Authorization: 'Convex test-admin-key' } });
  await r.json();
  return performance.now() - t0;
}"""

LIVE = """async (tag) => {
  const t0 = performance.now();
  const r = await fetch('/api/pyconvex/dashboard/insert', { method: 'POST',
    headers: { Authorization: 'Convex test-admin-key', 'Content-Type': 'application/json' },
    body: JSON.stringify({ table: 'items', documents: [{ n: -1, tag }] }) });
  await r.json();
  const acked = performance.now();
  const seen = () => Array.from(document.querySelectorAll('tr.row')).some((tr) => tr.textContent.includes(tag));
  while (!seen()) await new Promise((r) => requestAnimationFrame(r));
  return [acked - t0, performance.now() - t0];
}"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=9)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp) / "db.sqlite3", APP)
        try:
            httpx.post(f"{url}/api/mutation", json={"path": "channels:create", "args": {"name": "c"}})
            with httpx.Client(timeout=120) as client:
                for start in range(0, opts.docs, 1000):
                    docs = [{"n": float(i), "tag": f"t{i % 97}"} for i in range(start, min(opts.docs, start + 1000))]
                    r = client.post(f"{url}/api/pyconvex/dashboard/insert",
                                    json={"table": "items", "documents": docs}, headers=ADMIN)
                    r.raise_for_status()
            stop_server(proc)  # restart: the count is not cached yet
            proc, url = start_server(Path(tmp) / "db.sqlite3", APP)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                t0 = time.perf_counter()
                page.goto(f"{url}/dashboard#key=test-admin-key")
                page.locator("[data-table=items]").click()
                page.locator("tr.row").first.wait_for()
                cold_rows = (time.perf_counter() - t0) * 1000
                page.locator("[data-count=items]").filter(has_text=f"{opts.docs:,}").wait_for()
                cold_count = (time.perf_counter() - t0) * 1000
                first, raw = [], []
                for _ in range(opts.runs):
                    first.append(page.evaluate(FIRST_ROWS, "items"))
                    raw.append(page.evaluate(RAW_FETCH, "items"))
                page.locator("[data-table=items]").click()
                page.locator("tr.row").first.wait_for()
                page.locator("#live").filter(has_text="● live").wait_for()
                acked, shown = [], []
                for i in range(opts.runs):
                    a, s = page.evaluate(LIVE, f"live-{i}-{time.time_ns()}")
                    acked.append(a)
                    shown.append(s)
                # a cold visit again timed in the page: navigation start to the first row,
                # the table clicked by the page as soon as its button exists
                stop_server(proc)
                proc, url = start_server(Path(tmp) / "db.sqlite3", APP)
                fresh = browser.new_page(viewport={"width": 1280, "height": 900})
                fresh.add_init_script(COLD_IN_PAGE)
                fresh.goto(f"{url}/dashboard#key=test-admin-key")
                cold_in_page = fresh.evaluate("window.__firstRows")
                fresh.close()
                browser.close()
        finally:
            stop_server(proc)
    med = statistics.median
    print(f"documents: {opts.docs}, runs: {opts.runs} (medians)")
    print(f"cold (server just started): page load to first rows {cold_rows:.0f} ms, "
          f"to the table's count ({opts.docs} counted once) {cold_count:.0f} ms")
    print(f"cold, timed in the page: navigation start to first rows {cold_in_page:.0f} ms")
    print(f"first rows after clicking the table: {med(first):.1f} ms "
          f"(baseline raw page fetch {med(raw):.1f} ms, ratio {med(first) / med(raw):.2f}x)")
    print(f"commit to grid: {med(shown):.1f} ms from sending the insert "
          f"(baseline insert acknowledged {med(acked):.1f} ms; after the ack {med(shown) - med(acked):.1f} ms)")


if __name__ == "__main__":
    main()
