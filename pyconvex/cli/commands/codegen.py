"""``pyconvex codegen``: write ``_generated/`` for the functions directory."""

from __future__ import annotations

from pathlib import Path

import typer

from pyconvex.cli.options import FunctionsOption
from pyconvex.codegen import write_generated
from pyconvex.errors import PyConvexError


def codegen(functions: Path = FunctionsOption) -> None:
    """Generate typed references (_generated/api.py), the data model
    (_generated/data_model.py) and typed ctx classes (_generated/server.py).

    `pyconvex dev` does this on every save; run it yourself in CI or before mypy.

    Examples:

      pyconvex codegen

      pyconvex codegen --functions backend && mypy .
    """
    if not functions.is_dir():
        typer.secho(f"pyconvex: the functions directory {functions} does not exist.", err=True, fg="red")
        raise typer.Exit(1)
    try:
        changed = write_generated(functions)
    except PyConvexError as e:
        typer.secho(f"pyconvex: {e.message}", err=True, fg="red")
        raise typer.Exit(1) from None
    if changed:
        typer.echo("Wrote " + ", ".join(f"{functions}/_generated/{n}" for n in changed))
    else:
        typer.echo(f"{functions}/_generated/ is up to date.")
