"""``pyconvex export`` / ``pyconvex import``: Convex's snapshot ZIP format, both ways."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from pyconvex.cli.options import TargetAdminKeyOption, UrlOption
from pyconvex.cli.target import fail, request, resolve

CHUNK = 256 * 1024


def _bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), transient=False)


def export(
    path: Path = typer.Option(..., "--path", help="Where to write the snapshot ZIP (must not exist)."),
    url: str | None = UrlOption,
    admin_key: str | None = TargetAdminKeyOption,
) -> None:
    """Export every table, at one consistent timestamp, as a snapshot ZIP in Convex's
    format (imports into Convex with `npx convex import`, and here with `pyconvex import`).

    Examples:

      pyconvex export --path backup.zip

      pyconvex export --path prod.zip --url https://backend.example.com --admin-key "$KEY"
    """
    if path.exists():
        raise fail(f"{path} already exists: choose a new --path.")
    target = resolve(url, admin_key)
    tmp = path.with_name(path.name + ".partial")
    try:
        with httpx.stream("GET", target.url + "/api/pyconvex/export", headers=target.auth,
                          timeout=600) as response:
            if response.status_code != 200:
                response.read()
                raise fail(f"export failed: {response.text[:500]}")
            total = int(response.headers.get("content-length", 0)) or None
            with _bar() as bar, tmp.open("wb") as out:
                task = bar.add_task("Downloading snapshot", total=total)
                for chunk in response.iter_bytes(CHUNK):
                    out.write(chunk)
                    bar.advance(task, len(chunk))
                out.flush()
                os.fsync(out.fileno())
        tmp.replace(path)
    except httpx.ConnectError:
        raise fail(f"Cannot reach the deployment at {target.url}.") from None
    finally:
        tmp.unlink(missing_ok=True)
    tables = response.headers.get("x-pyconvex-tables", "{}")
    typer.echo(f"Wrote {path}: {tables}")


def import_(
    path: Path = typer.Argument(..., help="A snapshot ZIP (from `pyconvex export` or Convex)."),
    replace: bool = typer.Option(
        False, "--replace", help="Delete the documents of tables the snapshot holds first."
    ),
    url: str | None = UrlOption,
    admin_key: str | None = TargetAdminKeyOption,
) -> None:
    """Import a snapshot ZIP in Convex's format: every document keeps its _id and
    _creationTime. All or nothing: a bad document (named with its line) or a non-empty
    table without --replace imports nothing.

    Examples:

      pyconvex import backup.zip

      pyconvex import snapshot_from_convex.zip --replace
    """
    if not path.is_file():
        raise fail(f"{path} is not a file.")
    target = resolve(url, admin_key)
    size = path.stat().st_size
    with _bar() as bar:
        task = bar.add_task("Uploading snapshot", total=size)

        def body() -> Iterator[bytes]:
            with path.open("rb") as f:
                while data := f.read(CHUNK):
                    bar.advance(task, len(data))
                    yield data

        result = request(target, "POST", "/api/pyconvex/import",
                         params={"replace": "1" if replace else "0"}, content=body(), timeout=3600)
    for name, count in result["tables"].items():
        typer.echo(f"  {name}: {count} documents")
    for name in result.get("renumbered", []):
        typer.echo(f"  {name}: ids re-encoded (this deployment numbers the table differently)")
    for line in result.get("skipped", []):
        typer.echo(f"  skipped {line}")
    typer.echo(f"Imported {sum(result['tables'].values())} documents.")
