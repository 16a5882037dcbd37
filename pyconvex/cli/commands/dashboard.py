"""``pyconvex dashboard``: open the deployment's dashboard in a browser."""

from __future__ import annotations

import webbrowser
from urllib.parse import quote

import typer

from pyconvex.cli.options import TargetAdminKeyOption, UrlOption
from pyconvex.cli.target import resolve


def dashboard(
    url: str | None = UrlOption,
    admin_key: str | None = TargetAdminKeyOption,
    open_browser: bool = typer.Option(True, "--open/--no-open", help="Open it in a browser."),
) -> None:
    """Open the dashboard (tables and documents, run a function, logs, schedules, files,
    environment variables). The admin key travels in the URL fragment, which browsers
    never send to the server, and stays in that browser tab.

    Examples:

      pyconvex dashboard

      pyconvex dashboard --no-open --url http://127.0.0.1:3210 --admin-key "$KEY"
    """
    target = resolve(url, admin_key)
    link = f"{target.url}/dashboard#key={quote(target.admin_key, safe='')}"
    typer.echo(link)
    if open_browser:
        webbrowser.open(link)
