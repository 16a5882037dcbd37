"""``pyconvex dev``: the local deployment, following your edits."""

from __future__ import annotations

from pathlib import Path

import typer

from pyconvex.cli.options import FunctionsOption, HostOption, PortOption, SitePortOption, WebOption
from pyconvex.dev import DevServer
from pyconvex.errors import PyConvexError
from pyconvex.server.runner import run_on_server_loop


def dev(
    functions: Path = FunctionsOption,
    host: str = HostOption,
    port: int = PortOption,
    site_port: int = SitePortOption,
    web: Path | None = WebOption,
    tail_logs: bool = typer.Option(True, help="Print function log lines as they happen."),
) -> None:
    """Run a local deployment (SQLite and files in .pyconvex/) and follow FUNCTIONS.

    On every save: reload the code, push the schema (refused, with the first bad
    document named, if existing data violates it), regenerate _generated/, print what
    changed. A file that fails to load is reported with its location and the previous
    code keeps serving.

    Examples:

      pyconvex dev

      pyconvex dev --functions backend --port 4000

      pyconvex dev --web web/dist
    """
    server = DevServer(functions, host=host, port=port, web_dir=web, tail_logs=tail_logs,
                       site_port=site_port or None)
    try:
        run_on_server_loop(server.run())
    except PyConvexError as e:
        typer.secho(f"pyconvex: {e.message}", err=True, fg="red")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        pass
