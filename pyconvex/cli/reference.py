"""``docs/cli.md``: the command reference, rendered from the commands' own ``--help``.

The file is generated (``python -m pyconvex.cli.reference > docs/cli.md``) and a test
checks it is current, so the docs can never drift from the CLI.
"""

from __future__ import annotations

import os

import typer
from typer.testing import CliRunner

from pyconvex.cli.main import app


def _help(args: list[str]) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], prog_name="pyconvex",
                                env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"})
    return result.output.rstrip()


def _commands() -> list[list[str]]:
    group = typer.main.get_command(app)
    out: list[list[str]] = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        out.append([name])
        for sub in getattr(command, "commands", {}):
            out.append([name, sub])
    return out


def render() -> str:
    os.environ.setdefault("COLUMNS", "100")
    parts = [
        "# Command line reference",
        "",
        "Generated from `pyconvex --help` by `python -m pyconvex.cli.reference > docs/cli.md`;",
        "`tests/cli/test_reference.py` fails when it is out of date.",
        "",
        "```text",
        _help([]),
        "```",
    ]
    for args in _commands():
        parts += ["", f"## pyconvex {' '.join(args)}", "", "```text", _help(args), "```"]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    print(render(), end="")
