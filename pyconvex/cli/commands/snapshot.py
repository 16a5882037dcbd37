"""``pyconvex export`` / ``pyconvex import``: Convex's snapshot ZIP format, both ways."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from pyconvex.cli.options import TargetAdminKeyOption, UrlOption
from pyconvex.cli.target import Target, fail, resolve

CHUNK = 256 * 1024


def _bar(show: bool = True) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), transient=False, disable=not show)


def export(
    path: Path = typer.Option(..., "--path", help="Where to write the snapshot ZIP (must not exist)."),
    include_file_storage: bool = typer.Option(
        True, "--include-file-storage/--no-file-storage",
        help="Include the uploaded files (_storage/), so a restore leaves no document pointing "
        "at a missing file (the default).",
    ),
    url: str | None = UrlOption,
    admin_key: str | None = TargetAdminKeyOption,
) -> None:
    """Export every table and every uploaded file, at one consistent timestamp, as a
    snapshot ZIP in Convex's format (imports into Convex with `npx convex import`, and
    here with `pyconvex import`).

    Examples:

      pyconvex export --path backup.zip

      pyconvex export --path prod.zip --url https://backend.example.com --admin-key "$KEY"
    """
    if path.exists():
        raise fail(f"{path} already exists: choose a new --path.")
    target = resolve(url, admin_key)
    typer.echo("Writing the snapshot on the server...", err=True)
    tables, files = download_snapshot(target, path, include_files=include_file_storage,
                                      progress=True)
    typer.echo(f"Wrote {path}: {orjson.dumps(tables).decode()}")
    if files.get("files"):
        typer.echo(f"  with {files['files']} files ({files['bytes']} bytes)")
    if files.get("leftOut"):
        typer.echo(f"  without the deployment's {files['leftOut']} uploaded files (--no-file-storage): "
                   "a restore will have documents pointing at missing files", err=True)


def download_snapshot(
    target: Target, path: Path, *, include_files: bool, progress: bool
) -> tuple[dict[str, int], dict[str, int]]:
    """Export to ``path`` (written as ``<path>.partial``, fsynced, then renamed, so a
    ``path`` that exists is complete); ``(documents per table, files summary)``."""
    tmp = path.with_name(path.name + ".partial")
    params = {"includeStorage": "1" if include_files else "0"}
    try:
        with httpx.stream("GET", target.url + "/api/pyconvex/export", headers=target.auth,
                          params=params, timeout=3600) as response:
            if response.status_code != 200:
                response.read()
                raise fail(f"export failed: {response.text[:500]}")
            total = int(response.headers.get("content-length", 0)) or None
            with _bar(progress) as bar, tmp.open("wb") as out:
                task = bar.add_task("Downloading snapshot", total=total)
                for chunk in response.iter_bytes(CHUNK):
                    out.write(chunk)
                    bar.advance(task, len(chunk))
                out.flush()
                os.fsync(out.fileno())
        tmp.replace(path)
    except httpx.TransportError as e:
        raise fail(f"Cannot reach the deployment at {target.url}: {e}.") from None
    finally:
        tmp.unlink(missing_ok=True)
    tables: dict[str, int] = orjson.loads(response.headers.get("x-pyconvex-tables", "{}"))
    files: dict[str, int] = orjson.loads(response.headers.get("x-pyconvex-files", "{}"))
    return tables, files


def snapshot_tables(path: Path) -> list[str]:
    """The tables a snapshot ZIP holds (``_storage`` included), read locally."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as e:
        raise fail(f"{path} is not a snapshot ZIP: {e}.") from None
    tables = []
    for name in names:
        table, sep, rest = name.partition("/")
        if sep and rest == "documents.jsonl" and (not table.startswith("_") or table == "_storage"):
            tables.append(table)
    return sorted(tables)


def refuse_non_empty(target: Target, tables: list[str]) -> None:
    """Without --replace the server refuses a non-empty table: say so before uploading."""
    for table in tables:
        response = httpx.get(target.url + "/api/pyconvex/data", headers=target.auth,
                             params={"table": table, "limit": 1}, timeout=60)
        if response.status_code == 200 and response.json()["documents"]:
            raise fail(f"Table '{table}' already has documents: import into an empty deployment, "
                       "or pass --replace to delete the documents of the snapshot's tables first. "
                       "Nothing was uploaded.")


def import_(
    path: Path = typer.Argument(..., help="A snapshot ZIP (from `pyconvex export` or Convex)."),
    replace: bool = typer.Option(
        False, "--replace", help="Delete the documents of tables the snapshot holds first."
    ),
    url: str | None = UrlOption,
    admin_key: str | None = TargetAdminKeyOption,
) -> None:
    """Import a snapshot ZIP in Convex's format: every document keeps its _id and
    _creationTime, every uploaded file its storage id (checked against its SHA-256).
    All or nothing: a bad document (named with its line) or a non-empty table without
    --replace imports nothing.

    Examples:

      pyconvex import backup.zip

      pyconvex import snapshot_from_convex.zip --replace
    """
    if not path.is_file():
        raise fail(f"{path} is not a file.")
    target = resolve(url, admin_key)
    tables = snapshot_tables(path)
    try:
        if not replace:
            refuse_non_empty(target, tables)
        result = _upload(target, path, replace)
    except httpx.ConnectError:
        raise fail(f"Cannot reach the deployment at {target.url}.") from None
    for name, count in result["tables"].items():
        typer.echo(f"  {name}: {count} documents")
    if result.get("files"):
        typer.echo(f"  _storage: {result['files']} files")
    for name in result.get("renumbered", []):
        typer.echo(f"  {name}: ids re-encoded (this deployment numbers the table differently)")
    for line in result.get("skipped", []):
        typer.echo(f"  skipped {line}")
    typer.echo(f"Imported {sum(result['tables'].values())} documents.")


def _upload(target: Target, path: Path, replace: bool) -> dict[str, Any]:
    """Upload with a bar, then follow the server's progress lines to the result."""
    size = path.stat().st_size
    params = {"replace": "1" if replace else "0", "progress": "1"}
    upload = _bar()
    task = upload.add_task("Uploading snapshot", total=size)

    def body() -> Iterator[bytes]:
        with path.open("rb") as f:
            while data := f.read(CHUNK):
                upload.advance(task, len(data))
                yield data

    upload.start()
    try:
        with httpx.stream("POST", target.url + "/api/pyconvex/import", headers=target.auth,
                          params=params, content=body(), timeout=3600) as response:
            upload.stop()  # the body is sent: now the server's side
            if response.status_code != 200:
                response.read()
                try:
                    error = response.json()
                except ValueError:
                    raise fail(f"import failed: {response.text[:500]}") from None
                raise fail(f"{error.get('code')}: {error.get('message')}")
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn()) as bar:
                return _follow(bar, response)
    finally:
        upload.stop()


def _follow(bar: Progress, response: httpx.Response) -> dict[str, Any]:
    tasks: dict[str, TaskID] = {}
    for line in response.iter_lines():
        if not line.strip():
            continue
        message = orjson.loads(line)
        if "progress" in message:
            p = message["progress"]
            what = "Restoring files" if p["table"] == "_storage" else f"Writing {p['table']}"
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=p["total"])
            bar.update(tasks[what], completed=p["done"], total=p["total"])
        elif message.get("phase") == "committing":
            tasks["commit"] = bar.add_task(f"Committing {message['documents']} documents", total=None)
        elif "error" in message:
            raise fail(f"{message['error']['code']}: {message['error']['message']}")
        elif "result" in message:
            if "commit" in tasks:  # done: a full bar, and the time it took
                bar.update(tasks["commit"], total=1, completed=1)
                bar.stop_task(tasks["commit"])
            result: dict[str, Any] = message["result"]
            return result
    raise fail("The server closed the import without a result; see its log.")
