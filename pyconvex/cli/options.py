"""Options shared by several commands, defined once."""

from __future__ import annotations

from pathlib import Path

import typer

FunctionsOption = typer.Option(
    Path("convex"), "--functions", help="The functions directory.", show_default=True
)
HostOption = typer.Option("127.0.0.1", "--host", help="Interface to listen on.")
PortOption = typer.Option(3210, "--port", help="Port of the deployment URL.")
AdminKeyOption = typer.Option(
    None, "--admin-key", help="Admin key (random if not given; printed on start)."
)
