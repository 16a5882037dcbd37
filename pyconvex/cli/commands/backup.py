"""``pyconvex backup``: timestamped snapshots into a folder or an S3 prefix, now or
on a schedule, keeping the newest N.

Each backup is ``pyconvex export`` (every table and every uploaded file, one
consistent timestamp, Convex's snapshot format) written as
``<prefix>-YYYYMMDDTHHMMSSZ.zip``; it appears under that name only once complete (a
folder gets it by rename after fsync, S3 by one upload after the download finished),
so a crash mid-download never leaves a truncated backup among the good ones. Retention
deletes only backups of that name pattern, oldest first, and only after a new backup
succeeded: a failing deployment never erases the backups you have.
"""

from __future__ import annotations

import re
import signal
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

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


class Destination(Protocol):
    def names(self) -> list[str]:
        """Every file name there (the caller picks its backups out)."""
        ...

    def save(self, name: str, write: Any) -> None:
        """Make ``name`` hold what ``write(path)`` writes to a local path, complete or not at all."""
        ...

    def remove(self, name: str) -> None: ...


class Folder:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)

    def names(self) -> list[str]:
        return [p.name for p in self.path.iterdir() if p.is_file()]

    def save(self, name: str, write: Any) -> None:
        write(self.path / name)  # download_snapshot writes .partial and renames

    def remove(self, name: str) -> None:
        (self.path / name).unlink(missing_ok=True)


class S3Prefix:
    """``s3://bucket/prefix`` through boto3 (``pyconvex[s3]``; ``AWS_*`` variables)."""

    def __init__(self, url: str) -> None:
        try:
            import boto3  # type: ignore[import-untyped,import-not-found,unused-ignore]
        except ImportError:
            raise fail("Backups to S3 need boto3: pip install 'pyconvex[s3]'.") from None
        self.bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not self.bucket:
            raise fail(f"--to {url!r}: expected s3://bucket/prefix.")
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client: Any = boto3.client("s3")

    def names(self) -> list[str]:
        out: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix, Delimiter="/"
        ):
            out.extend(item["Key"][len(self.prefix):] for item in page.get("Contents", []))
        return out

    def save(self, name: str, write: Any) -> None:
        with tempfile.TemporaryDirectory(prefix="pyconvex-backup-") as tmp:
            local = Path(tmp) / name
            write(local)
            self.client.upload_file(str(local), self.bucket, self.prefix + name)

    def remove(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + name)


def destination(to: str) -> Destination:
    return S3Prefix(to) if to.startswith("s3://") else Folder(Path(to))


def backup_names(dest: Destination, prefix: str) -> list[str]:
    """This command's backups, oldest first (the names sort by time)."""
    pattern = re.compile(re.escape(prefix) + r"-\d{8}T\d{6}Z\.zip")
    return sorted(n for n in dest.names() if pattern.fullmatch(n))


def backup_once(target: Target, dest: Destination, prefix: str, keep: int, include_files: bool) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"{prefix}-{stamp}.zip"
    if name in backup_names(dest, prefix):  # two backups within one second
        time.sleep(1.0)
        return backup_once(target, dest, prefix, keep, include_files)
    got: dict[str, Any] = {}

    def write(path: Path) -> None:
        got["tables"], got["files"] = download_snapshot(target, path, include_files=include_files,
                                                        progress=False)

    dest.save(name, write)
    removed = backup_names(dest, prefix)[:-keep]
    for old in removed:
        dest.remove(old)
    tables, files = got["tables"], got["files"]
    typer.echo(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z wrote {name}: "
               f"{sum(tables.values())} documents in {len(tables)} tables, {files.get('files', 0)} "
               f"files" + (f"; removed {', '.join(removed)}" if removed else ""))
    return name


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_on_signals() -> None:
    """Stop between (or inside) backups on SIGTERM, as service managers and containers
    send it, and on SIGINT even when it was inherited as ignored (a shell starts
    background commands so), as ``pyconvex serve`` does through uvicorn. A backup cut
    short leaves only its ``.partial`` file, which is removed."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop)


def backup(
    to: str = typer.Option(
        ..., "--to", help="A folder (created if missing) or s3://bucket/prefix (pyconvex[s3]; "
        "AWS_* environment variables) to write backups into.",
    ),
    every: str | None = typer.Option(
        None, "--every", metavar="INTERVAL",
        help="Keep running (until Ctrl-C or SIGTERM) and back up every INTERVAL (30m, 6h, 1d); "
        "without it, back up once.",
    ),
    keep: int = typer.Option(7, "--keep", min=1, help="How many backups to keep (the newest)."),
    prefix: str = typer.Option("pyconvex-backup", "--prefix", help="The backups' file name prefix."),
    include_file_storage: bool = typer.Option(
        True, "--include-file-storage/--no-file-storage", help="Include the uploaded files.",
    ),
    url: str | None = UrlOption,
    admin_key: str | None = TargetAdminKeyOption,
) -> None:
    """Write a timestamped snapshot ZIP (every table and file) into a folder or an S3
    prefix, once or on a schedule, and delete all but the newest --keep. Restore one
    with `pyconvex import <file> --replace`.

    Examples:

      pyconvex backup --to /backups --keep 14

      pyconvex backup --to /backups --every 6h --keep 28 --url https://api.example.com

      pyconvex backup --to s3://my-bucket/convex-backups --every 1d --keep 30
    """
    if not re.fullmatch(r"[A-Za-z0-9._-]+", prefix):
        raise fail(f"--prefix {prefix!r}: use letters, digits, '.', '_' and '-' only.")
    interval = parse_interval(every) if every is not None else None
    target = resolve(url, admin_key)
    dest = destination(to)
    if interval is None:
        backup_once(target, dest, prefix, keep, include_file_storage)
        return
    typer.echo(f"Backing up {target.url} into {to} every {every}, keeping {keep} (Ctrl-C to stop).")
    _stop_on_signals()
    try:
        while True:
            started = time.monotonic()
            try:
                backup_once(target, dest, prefix, keep, include_file_storage)
            except typer.Exit:  # the reason is printed; try again next time
                typer.echo("backup failed; the next attempt is at the next interval", err=True)
            except Exception as e:  # S3 or disk trouble: the same
                typer.echo(f"backup failed ({type(e).__name__}: {e}); the next attempt is at the "
                           "next interval", err=True)
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        pass
