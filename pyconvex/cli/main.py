"""The ``pyconvex`` typer app: wiring only (each command lives in ``commands/``)."""

from __future__ import annotations

import typer

from pyconvex.cli.commands.codegen import codegen
from pyconvex.cli.commands.data import data
from pyconvex.cli.commands.deploy import deploy
from pyconvex.cli.commands.dev import dev
from pyconvex.cli.commands.env import env_app
from pyconvex.cli.commands.init import init
from pyconvex.cli.commands.logs import logs
from pyconvex.cli.commands.run import run
from pyconvex.cli.commands.serve import serve

app = typer.Typer(
    name="pyconvex",
    help=(
        "pyconvex: the reactive database and backend platform, in Python.\n\n"
        "Examples:\n\n  pyconvex init myapp && cd myapp && pyconvex dev\n\n"
        "  pyconvex run messages:list\n\n  pyconvex serve --functions convex --db sqlite:///app.db"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
app.command()(init)
app.command()(dev)
app.command()(serve)
app.command()(codegen)
app.command()(deploy)
app.command()(run)
app.command()(data)
app.command()(logs)
app.add_typer(env_app)


@app.callback()
def _root() -> None:
    """pyconvex command line."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
