"""``pyconvex backup``: timestamped snapshots into a folder, now or on a schedule,
keeping the newest N.

Each backup is ``pyconvex export`` (every table and every uploaded file, one
consistent timestamp, Convex's snapshot format) written as
``<prefix>-YYYYMMDDTHHMMSSZ.zip``; it appears under that name only once complete, so a
crash mid-download never leaves a truncated backup among the good ones. Retention
deletes only files of that name pattern, oldest first, and only after a new backup
succeeded: a failing deployment never erases the backups you have.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import typer

from pyconvex.cli.commands.snapshot import download_snapshot
from pyconvex.cli.options import TargetAdminKeyOption, UrlOption
from pyconvex.cli.target import Target, fail, resolve

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> float:
    """``90s``, ``15m``, ``6h``, ``1d`` (or plain seconds) -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if match is None or float(match.group(1)) <= 0:
        raise fail(f"--every {text!r}: expected a positive interval such as 30m, 6h or 1d.")
    return float(match.group(1)) * UNITS[match.group(2) or "s"]


def backup_names(folder: Path, prefix: str) -> list[Path]:
    """This command's backups in ``folder``, oldest first (the names sort by time)."""
    pattern = re.compile(re.escape(prefix) + r"-\d{8}T\d{6}Z\.zip")
    return sorted(p for p in folder.iterdir() if p.is_file() and pattern.fullmatch(p.name))


def backup_once(target: Target, folder: Path, prefix: str, keep: int, include_files: bool) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{prefix}-{stamp}.zip"
    if path.exists():  # two backups within one second
        time.sleep(1.0)
        return backup_once(target, folder, prefix, keep, include_files)
    tables, files = download_snapshot(target, path, include_files=include_files, progress=False)
    removed = backup_names(folder, prefix)[:-keep]
    for old in removed:
        old.unlink(missing_ok=True)
    typer.echo(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z wrote {path.name}: "
               f"{sum(tables.values())} documents in {len(tables)} tables, {files.get('files', 0)} "
               f"files" + (f"; removed {', '.join(p.name for p in removed)}" if removed else ""))
    return path


def backup(
    to: Path = typer.Option(..., "--to", help="The folder to write backups into (created if missing)."),
    every: str | None = typer.Option(
        None, "--every", metavar="INTERVAL",
        help="Keep running and back up every INTERVAL (30m, 6h, 1d); without it, back up once.",
    ),
    keep: int = typer.Option(7, "--keep", min=1, help="How many backups to keep (the newest)."),
    prefix: str = typer.Option("pyconvex-backup", "--prefix", help="The backups' file name prefix."),
    include_file_storage: bool = typer.Option(
        True, "--include-file-storage/--no-file-storage", help="Include the uploaded files.",
    ),
    url: str | None = UrlOption,
    admin_key: str | None = TargetAdminKeyOption,
) -> None:
    """Write a timestamped snapshot ZIP (every table and file) into a folder, once or
    on a schedule, and delete all but the newest --keep. Restore one with
    `pyconvex import <file> --replace`.

    Examples:

      pyconvex backup --to /backups --keep 14

      pyconvex backup --to /backups --every 6h --keep 28 --url https://api.example.com
    """
    if not re.fullmatch(r"[A-Za-z0-9._-]+", prefix):
        raise fail(f"--prefix {prefix!r}: use letters, digits, '.', '_' and '-' only.")
    interval = parse_interval(every) if every is not None else None
    target = resolve(url, admin_key)
    to.mkdir(parents=True, exist_ok=True)
    if interval is None:
        backup_once(target, to, prefix, keep, include_file_storage)
        return
    typer.echo(f"Backing up {target.url} into {to} every {every}, keeping {keep} (Ctrl-C to stop).")
    try:
        while True:
            started = time.monotonic()
            try:
                backup_once(target, to, prefix, keep, include_file_storage)
            except typer.Exit:  # the reason is printed; try again next time
                typer.echo("backup failed; the next attempt is at the next interval", err=True)
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        pass
