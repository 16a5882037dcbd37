"""``pyconvex serve``: run a deployment's HTTP and WebSocket server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from pyconvex.cli.options import AdminKeyOption, HostOption, PortOption
from pyconvex.errors import PyConvexError
from pyconvex.server.runner import serve as run_server


def serve(
    functions: Path | None = typer.Option(
        None, "--functions",
        help="The functions directory to serve (default: the code last uploaded by "
        "`pyconvex deploy`, kept in the database).",
    ),
    db: str = typer.Option(
        "sqlite:///.pyconvex/db.sqlite3", "--db", help="sqlite:///path (postgresql:// later)."
    ),
    host: str = HostOption,
    port: int = PortOption,
    admin_key: str | None = AdminKeyOption,
) -> None:
    """Serve the functions in FUNCTIONS over Convex's HTTP API and sync protocol.

    Examples:

      pyconvex serve --functions convex --db sqlite:///data/app.sqlite3

      pyconvex serve --port 4000 --admin-key "$ADMIN_KEY"

      pyconvex serve --db sqlite:///data/app.sqlite3   (serves the code from `pyconvex deploy`)
    """
    try:
        asyncio.run(run_server(functions, db, host=host, port=port, admin_key=admin_key))
    except PyConvexError as e:
        typer.echo(f"pyconvex: {e.message}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        pass
