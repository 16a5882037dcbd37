"""The ``pyconvex`` typer app: wiring only."""

from __future__ import annotations

import typer

from pyconvex.cli.commands.serve import serve

app = typer.Typer(
    name="pyconvex",
    help="pyconvex: the reactive database and backend platform, in Python.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(serve)


@app.callback()
def _root() -> None:
    """pyconvex command line."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
