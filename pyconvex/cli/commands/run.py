"""``pyconvex run``: call a function (any kind, internal ones too) as the admin."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import typer

from pyconvex.cli.options import TargetAdminKeyOption, UrlOption
from pyconvex.cli.target import Target, fail, request, resolve
from pyconvex.client import (
    AsyncConvexClient,
    ConvexConnectionError,
    ConvexError,
    ConvexExecutionError,
)
from pyconvex.values import convex_to_clean_json


def _args(text: str) -> dict[str, Any]:
    try:
        args = json.loads(text)
    except json.JSONDecodeError as e:
        raise fail(f"ARGS is not JSON ({e}): pass an object like '{{\"name\": \"general\"}}'.") from None
    if not isinstance(args, dict):
        raise fail("ARGS must be a JSON object.")
    return args


def run(
    function: str = typer.Argument(..., help='Function path, e.g. "messages:list".'),
    args: str = typer.Argument("{}", help="Arguments as a JSON object."),
    watch: bool = typer.Option(False, "--watch", help="Subscribe (queries): print every new result."),
    url: str | None = UrlOption,
    admin_key: str | None = TargetAdminKeyOption,
) -> None:
    """Run FUNCTION with ARGS on the deployment and print the result as JSON.

    Examples:

      pyconvex run channels:list

      pyconvex run messages:send '{"channelId": "...", "text": "hi"}'

      pyconvex run messages:list '{"channelId": "..."}' --watch
    """
    target = resolve(url, admin_key)
    parsed = _args(args)
    if watch:
        try:
            asyncio.run(_watch(target, function, parsed))
        except KeyboardInterrupt:
            pass
        return
    module, _, name = function.partition(":")
    path = "/".join([*module.split("/"), name or "default"])
    body = request(target, "POST", f"/api/run/{path}", json={"args": parsed, "format": "json"})
    for line in body.get("logLines", []):
        typer.secho(line, err=True, dim=True)
    if body.get("status") != "success":
        data = body.get("errorData")
        raise fail(body.get("errorMessage", "failed") + (f"\n{json.dumps(data)}" if data is not None else ""))
    typer.echo(json.dumps(body.get("value"), indent=2, ensure_ascii=False))


async def _watch(target: Target, function: str, args: dict[str, Any]) -> None:
    """Print each new result; a failing query prints its error and the watch goes on, so
    the next result shows once the code is fixed. Only a lost connection ends it."""
    client = AsyncConvexClient(target.url)
    client.set_admin_auth(target.admin_key)
    try:
        subscription = client.subscribe(function, args)
        while True:
            try:
                value = await anext(subscription)
            except StopAsyncIteration:
                return
            except ConvexConnectionError as e:
                raise fail(str(e)) from None
            except (ConvexError, ConvexExecutionError) as e:
                typer.secho(f"{e} (still watching: fix the code and the result prints)",
                            err=True, fg="red")
                continue
            typer.echo(json.dumps(convex_to_clean_json(value), ensure_ascii=False), nl=True)
    finally:
        await client.aclose()
