"""``pyconvex serve``: run a deployment's HTTP and WebSocket server."""

from __future__ import annotations

from pathlib import Path

import typer

from pyconvex.cli.options import AdminKeyOption, HostOption, PortOption, SitePortOption, WebOption
from pyconvex.errors import BadRequestError, PyConvexError
from pyconvex.functions import DEFAULT_FUNCTION_LIMITS, FunctionLimits
from pyconvex.functions.runtime.limits import MiB
from pyconvex.server.runner import run_on_server_loop
from pyconvex.server.runner import serve as run_server


def serve(
    functions: Path | None = typer.Option(
        None, "--functions",
        help="The functions directory to serve (default: the code last uploaded by "
        "`pyconvex deploy`, kept in the database).",
    ),
    db: str = typer.Option(
        "sqlite:///.pyconvex/db.sqlite3", "--db",
        help="sqlite:///path, or postgresql://user@host/db (several processes may share one).",
    ),
    host: str = HostOption,
    port: int = PortOption,
    admin_key: str | None = AdminKeyOption,
    web: Path | None = WebOption,
    site_port: int = SitePortOption,
    retention: float = typer.Option(
        24 * 3600, "--retention", min=60,
        help="Seconds of history kept for time-travel reads; older versions are removed.",
    ),
    files: str | None = typer.Option(
        None, "--files",
        help="File storage: a folder, or s3://bucket/prefix (default: <db name>-files/ next to "
        "a SQLite database).",
    ),
    function_timeout: float = typer.Option(
        DEFAULT_FUNCTION_LIMITS.query_mutation_s, "--function-timeout", min=0.01,
        help="Seconds of user code time a query or mutation may run before it is stopped.",
    ),
    action_timeout: float = typer.Option(
        DEFAULT_FUNCTION_LIMITS.action_s, "--action-timeout", min=0.01,
        help="Seconds an action (or HTTP action) may run before its worker is stopped.",
    ),
    function_memory: int = typer.Option(
        DEFAULT_FUNCTION_LIMITS.query_mutation_memory // MiB, "--function-memory", min=1,
        help="MiB a query or mutation may grow the server's memory by in one stretch of code.",
    ),
    action_memory: int = typer.Option(
        DEFAULT_FUNCTION_LIMITS.action_memory // MiB, "--action-memory", min=1,
        help="MiB an action may grow its worker process's memory by.",
    ),
) -> None:
    """Serve the functions in FUNCTIONS over Convex's HTTP API and sync protocol.

    Examples:

      pyconvex serve --functions convex --db sqlite:///data/app.sqlite3

      pyconvex serve --port 4000 --admin-key "$ADMIN_KEY"

      pyconvex serve --db sqlite:///data/app.sqlite3   (serves the code from `pyconvex deploy`)
    """
    try:
        if web is not None and not web.is_dir():
            raise BadRequestError(f"The web directory {web} does not exist (--web DIR).")
        run_on_server_loop(run_server(functions, db, host=host, port=port, admin_key=admin_key,
                                      web_dir=web, site_port=site_port or None, files=files,
                                      retention_s=retention,
                                      limits=FunctionLimits(
                                          function_timeout, action_timeout,
                                          function_memory * MiB, action_memory * MiB,
                                      )))
    except PyConvexError as e:
        typer.echo(f"pyconvex: {e.message}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        pass
