"""``pyconvex deploy``: upload the functions directory; the server swaps code atomically."""

from __future__ import annotations

import io
import zipfile
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as Pending
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from pyconvex.cli.options import FunctionsOption, TargetAdminKeyOption, UrlOption
from pyconvex.cli.target import Target, fail, request, resolve

SKIP = {"_generated", "__pycache__", "node_modules"}
# How often a deploy asks the server about its long work (index backfills).
POLL_S = 0.5
PROGRESS = "/api/pyconvex/dashboard/progress"


def pack_functions(root: Path) -> bytes:
    """The functions directory as a ZIP of its ``.py`` files (generated code excluded)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root)
            if any(p in SKIP or p.startswith(".") for p in rel.parts[:-1]):
                continue
            archive.write(path, rel.as_posix())
    return buffer.getvalue()


def deploy(
    functions: Path = FunctionsOption,
    url: str | None = UrlOption,
    admin_key: str | None = TargetAdminKeyOption,
) -> None:
    """Upload FUNCTIONS to a deployment. It loads the code and pushes the schema first; on
    any error the old code keeps serving. Connected clients stay connected and their
    live queries re-run with the new code.

    Examples:

      pyconvex deploy --url https://backend.example.com --admin-key "$ADMIN_KEY"

      PYCONVEX_URL=... PYCONVEX_ADMIN_KEY=... pyconvex deploy --functions backend
    """
    if not functions.is_dir():
        raise fail(f"The functions directory {functions} does not exist.")
    target = resolve(url, admin_key)
    body = _deploy_showing_backfills(target, pack_functions(functions))
    typer.echo(f"Deployed {len(body['functions'])} functions to {target.url}.")
    if body.get("schema"):
        typer.echo(f"Schema: {body['schema']}")


def _deploy_showing_backfills(target: Target, archive: bytes) -> dict[str, Any]:
    """The deploy request, and meanwhile a bar per index the schema push backfills: a new
    index on a large table takes a while, and the request answers only once it is built."""
    with ThreadPoolExecutor(1) as pool, BackfillBars(target) as bars:
        sent = pool.submit(request, target, "POST", "/api/pyconvex/deploy", content=archive,
                           timeout=3600)
        while True:
            try:
                body: dict[str, Any] = sent.result(timeout=POLL_S)
            except Pending:
                bars.poll()
                continue
            bars.finish(body.get("backfilled", {}))
            return body


class BackfillBars:
    """Bars for the index backfills on the server's progress board, by polling it."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), transient=False)
        self.tasks: dict[str, TaskID] = {}
        self.polling = True

    def __enter__(self) -> BackfillBars:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def _task(self, index: str, total: int | None) -> TaskID:
        if index not in self.tasks:
            self.tasks[index] = self.bar.add_task(f"Backfilling index {index}", total=total)
        return self.tasks[index]

    def poll(self) -> None:
        if not self.polling:
            return
        try:
            response = httpx.get(self.target.url + PROGRESS, headers=self.target.auth, timeout=5)
            response.raise_for_status()
            work = response.json()["work"]
        except (httpx.HTTPError, ValueError, KeyError) as e:
            # The deploy goes on without bars; its result still says what was backfilled.
            self.polling = False
            self.bar.console.print(f"(backfill progress unavailable: {e})", style="dim")
            return
        for item in work:
            if item["kind"] == "index":
                index = f"{item['table']}.{item['index']}"
                self.bar.update(self._task(index, item["total"]), completed=item["done"],
                                total=item["total"])

    def finish(self, backfilled: dict[str, int]) -> None:
        """Every backfill the deploy did, complete, with its count (also the ones that ran
        between two polls)."""
        for index, documents in backfilled.items():
            self.bar.update(self._task(index, documents), completed=documents, total=documents)
