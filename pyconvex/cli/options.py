"""Options shared by several commands, defined once."""

from __future__ import annotations

from pathlib import Path

import typer

FunctionsOption = typer.Option(
    Path("convex"), "--functions", help="The functions directory.", show_default=True
)
HostOption = typer.Option("127.0.0.1", "--host", help="Interface to listen on.")
PortOption = typer.Option(3210, "--port", help="Port of the deployment URL.")
SitePortOption = typer.Option(
    3211, "--site-port",
    help="Port serving HTTP actions (convex/http.py); they are also under /http/ on --port. "
    "0 turns the site port off.",
)
WebOption = typer.Option(
    None, "--web", help="A folder of static files (a built web app) served at the deployment URL."
)
UrlOption = typer.Option(
    None, "--url", envvar="PYCONVEX_URL",
    help="Deployment URL (default: the one `pyconvex dev` started in this project).",
)
TargetAdminKeyOption = typer.Option(
    None, "--admin-key", envvar="PYCONVEX_ADMIN_KEY",
    help="The deployment's admin key (default: the local one from `pyconvex dev`).",
)
