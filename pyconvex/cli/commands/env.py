"""``pyconvex env``: the deployment's environment variables (``os.environ`` in functions)."""

from __future__ import annotations

import typer

from pyconvex.cli.options import TargetAdminKeyOption, UrlOption
from pyconvex.cli.target import fail, request, resolve

env_app = typer.Typer(
    name="env",
    help=(
        "Environment variables stored in the deployment, visible to functions through "
        "os.environ. Changing one re-runs every live query."
    ),
    epilog=(
        "\b\nExamples:\n  pyconvex env set OPENAI_API_KEY sk-...\n  pyconvex env list\n"
        "  pyconvex env remove OPENAI_API_KEY"
    ),
    no_args_is_help=True,
)


def set_(
    name: str, value: str, url: str | None = UrlOption, admin_key: str | None = TargetAdminKeyOption
) -> None:
    """Set NAME to VALUE.

    Examples:

      pyconvex env set GREETING hello
    """
    request(resolve(url, admin_key), "POST", "/api/pyconvex/env", json={"changes": {name: value}})
    typer.echo(f"Set {name}.")


def get(name: str, url: str | None = UrlOption, admin_key: str | None = TargetAdminKeyOption) -> None:
    """Print the value of NAME.

    Examples:

      pyconvex env get GREETING
    """
    variables = request(resolve(url, admin_key), "GET", "/api/pyconvex/env")["variables"]
    if name not in variables:
        raise fail(f"Environment variable {name} is not set.")
    typer.echo(variables[name])


def list_(url: str | None = UrlOption, admin_key: str | None = TargetAdminKeyOption) -> None:
    """Print every NAME=VALUE.

    Examples:

      pyconvex env list
    """
    variables = request(resolve(url, admin_key), "GET", "/api/pyconvex/env")["variables"]
    for name, value in sorted(variables.items()):
        typer.echo(f"{name}={value}")


def remove(name: str, url: str | None = UrlOption, admin_key: str | None = TargetAdminKeyOption) -> None:
    """Remove NAME.

    Examples:

      pyconvex env remove GREETING
    """
    request(resolve(url, admin_key), "POST", "/api/pyconvex/env", json={"changes": {name: None}})
    typer.echo(f"Removed {name}.")
