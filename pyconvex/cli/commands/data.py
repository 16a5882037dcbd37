"""``pyconvex data``: list tables, or show a table's latest documents."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.table import Table

from pyconvex.cli.options import TargetAdminKeyOption, UrlOption
from pyconvex.cli.target import request, resolve


def data(
    table: str | None = typer.Argument(None, help="Table to show (omit to list tables)."),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000, help="Documents to show."),
    order: str = typer.Option("desc", "--order", help="desc (newest first) or asc."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document per line."),
    at: str | None = typer.Option(
        None, "--at",
        help="Show the table as it was at this time (ISO 8601, or ms since the epoch), within "
        "the retention window.",
    ),
    url: str | None = UrlOption,
    admin_key: str | None = TargetAdminKeyOption,
) -> None:
    """Show the deployment's tables, or the documents of TABLE.

    Examples:

      pyconvex data

      pyconvex data messages --limit 20

      pyconvex data messages --json | jq .text

      pyconvex data messages --at 2026-11-25T10:00:00Z
    """
    target = resolve(url, admin_key)
    if table is None:
        for name in request(target, "GET", "/api/pyconvex/tables")["tables"]:
            typer.echo(name)
        return
    if order not in ("asc", "desc"):
        raise typer.BadParameter("--order must be asc or desc")
    params: dict[str, object] = {"table": table, "limit": limit, "order": order}
    if at is not None:
        params["at"] = _ms(at)
    docs = request(target, "GET", "/api/pyconvex/data", params=params)["documents"]
    if as_json:
        for doc in docs:
            typer.echo(json.dumps(doc, ensure_ascii=False))
        return
    columns: list[str] = ["_id", "_creationTime"]
    for doc in docs:
        columns.extend(k for k in doc if k not in columns)
    view = Table(title=f"{table} ({len(docs)} shown)")
    for column in columns:
        view.add_column(column, overflow="fold")
    for doc in docs:
        view.add_row(*(
            "" if c not in doc else doc[c] if isinstance(doc[c], str) else json.dumps(doc[c])
            for c in columns
        ))
    Console().print(view)


def _ms(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"--at {text!r}: use ISO 8601 (2026-11-25T10:00:00Z) or ms") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000
