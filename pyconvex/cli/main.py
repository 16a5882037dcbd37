"""The ``pyconvex`` typer app: wiring only (each command lives in ``commands/``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import typer

from pyconvex.cli.commands.auth import auth_app
from pyconvex.cli.commands.auth import init as auth_init
from pyconvex.cli.commands.auth import revoke as auth_revoke
from pyconvex.cli.commands.auth import sessions as auth_sessions
from pyconvex.cli.commands.backup import backup
from pyconvex.cli.commands.codegen import codegen
from pyconvex.cli.commands.dashboard import dashboard
from pyconvex.cli.commands.data import data
from pyconvex.cli.commands.deploy import deploy
from pyconvex.cli.commands.dev import dev
from pyconvex.cli.commands.env import env_app, get, list_, remove, set_
from pyconvex.cli.commands.init import init
from pyconvex.cli.commands.log_streams import add as log_streams_add
from pyconvex.cli.commands.log_streams import list_ as log_streams_list
from pyconvex.cli.commands.log_streams import log_streams_app
from pyconvex.cli.commands.log_streams import remove as log_streams_remove
from pyconvex.cli.commands.log_streams import test as log_streams_test
from pyconvex.cli.commands.logs import logs
from pyconvex.cli.commands.migrate import migrate_storage
from pyconvex.cli.commands.run import run
from pyconvex.cli.commands.serve import serve
from pyconvex.cli.commands.snapshot import export, import_

app = typer.Typer(
    name="pyconvex",
    help="pyconvex: the reactive database and backend platform, in Python.",
    epilog=(
        "\b\nExamples:\n  pyconvex init myapp && cd myapp && pyconvex dev\n"
        "  pyconvex run messages:list\n  pyconvex serve --functions convex --db sqlite:///app.db"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def register(group: typer.Typer, fn: Callable[..., Any], name: str | None = None) -> None:
    """Add a command whose docstring's "Examples:" part is shown last, after the options."""
    doc = inspect.cleandoc(fn.__doc__ or "")
    text, _, examples = doc.partition("Examples:")
    lines = [line.strip() for line in examples.strip().splitlines() if line.strip()]
    epilog = "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines) if lines else None
    group.command(name, help=text.strip(), epilog=epilog)(fn)


commands: tuple[Callable[..., Any], ...] = (
    init, dev, serve, codegen, deploy, run, data, logs, export, dashboard
)
for command in commands:
    register(app, command)
register(app, import_, "import")
register(app, migrate_storage, "migrate-storage")
register(app, backup)
env_commands: tuple[tuple[Callable[..., Any], str], ...] = (
    (set_, "set"), (get, "get"), (list_, "list"), (remove, "remove")
)
for command, name in env_commands:
    register(env_app, command, name)
app.add_typer(env_app)
for command, name in ((auth_init, "init"), (auth_sessions, "sessions"), (auth_revoke, "revoke")):
    register(auth_app, command, name)
app.add_typer(auth_app)
for command, name in ((log_streams_add, "add"), (log_streams_list, "list"),
                      (log_streams_remove, "remove"), (log_streams_test, "test")):
    register(log_streams_app, command, name)
app.add_typer(log_streams_app)


@app.callback()
def _root() -> None:
    """pyconvex command line."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
