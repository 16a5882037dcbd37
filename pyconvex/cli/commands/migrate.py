"""``pyconvex migrate-storage``: move a deployment's data to PostgreSQL."""

from __future__ import annotations

import asyncio

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from pyconvex.cli.target import fail
from pyconvex.database.migrate import migrate
from pyconvex.errors import PyConvexError
from pyconvex.persistence import open_persistence


def migrate_storage(
    to: str = typer.Option(..., "--to", help="The target database URL (postgresql://...?schema=...)."),
    source: str = typer.Option(
        "sqlite:///.pyconvex/db.sqlite3", "--from",
        help="The database to copy (default: the local `pyconvex dev` deployment). Stop the "
        "server using it first.",
    ),
) -> None:
    """Copy every document version and index entry to another database, then verify
    the copy by counts and SHA-256 checksums. The target must be empty. File storage
    stays where it is: serve with --files pointing at the same folder.

    Examples:

      pyconvex migrate-storage --to postgresql://app@db.example/app

      pyconvex migrate-storage --from sqlite:///data/app.sqlite3 --to "postgresql://localhost/app?schema=prod"
    """

    async def run() -> None:
        src = await open_persistence(source)
        try:
            dst = await open_persistence(to)
            try:
                with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()) as bar:
                    tasks: dict[str, TaskID] = {}

                    def progress(what: str, done: int, total: int) -> None:
                        if what not in tasks:
                            tasks[what] = bar.add_task(f"Copying {what}", total=total)
                        bar.update(tasks[what], completed=done, total=total)

                    result = await migrate(src, dst, progress=progress)
            finally:
                await dst.close()
        finally:
            await src.close()
        typer.echo(f"Copied {result.documents} document versions and {result.index_entries} index "
                   f"entries; counts and checksums match.")

    try:
        asyncio.run(run())
    except PyConvexError as e:
        raise fail(e.message) from None
