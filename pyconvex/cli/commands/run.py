"""``pyconvex run``: call a function (any kind, internal ones too) as the admin."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import typer

from pyconvex.cli.options import TargetAdminKeyOption, UrlOption
from pyconvex.cli.target import Target, fail, request, resolve
from pyconvex.client import (
    AsyncConvexClient,
    ConvexConnectionError,
    ConvexError,
    ConvexExecutionError,
)
from pyconvex.errors import PyConvexError
from pyconvex.functions.registry import canonicalize_path
from pyconvex.values import convex_to_clean_json, convex_to_json, json_to_convex


def _args(text: str) -> dict[str, Any]:
    try:
        args = json.loads(text)
    except json.JSONDecodeError as e:
        raise fail(f"ARGS is not JSON ({e}): pass an object like '{{\"name\": \"general\"}}'.") from None
    if not isinstance(args, dict):
        raise fail("ARGS must be a JSON object.")
    return args


def _arg_spec(target: Target, function: str) -> dict[str, Any] | None:
    """The function's args validator (validator JSON) from the deployment, or None when
    it has none or the deployment does not say (an older server)."""
    try:
        path = canonicalize_path(function)
        response = httpx.get(f"{target.url}/api/pyconvex/functions", headers=target.auth, timeout=30)
        if response.status_code != 200:
            return None
        for fn in response.json().get("functions", []):
            if fn.get("identifier") == path:
                spec = fn.get("args")
                return spec if isinstance(spec, dict) else None
    except (httpx.HTTPError, ValueError, PyConvexError):
        return None
    return None


def _int64_where_expected(spec: dict[str, Any] | None, value: Any) -> Any:
    """``value`` with an int where ``spec`` expects an int64 and the JSON had an integral
    number. JSON numbers are float64 on Convex's wire (a JavaScript number), which an
    ``int``/``v.int64()`` argument refuses; the wire stays strict, the CLI adapts."""
    if spec is None:
        return value
    kind = spec.get("type")
    if kind in ("bigint", "int64"):
        return int(value) if type(value) is float and value.is_integer() else value
    if kind == "object" and isinstance(value, dict):
        fields = spec.get("value", {})
        return {k: _int64_where_expected(fields[k]["fieldType"], x) if k in fields else x
                for k, x in value.items()}
    if kind == "array" and isinstance(value, list):
        return [_int64_where_expected(spec.get("value"), x) for x in value]
    if kind == "record" and isinstance(value, dict):
        values = spec.get("values", {}).get("fieldType")
        return {k: _int64_where_expected(values, x) for k, x in value.items()}
    if kind == "union":
        members = spec.get("value", [])
        if type(value) is float and any(m.get("type") == "number" for m in members):
            return value  # a float64 member takes it as it is
        for member in members:
            converted = _int64_where_expected(member, value)
            if converted is not value:
                return converted
    return value


def run(
    function: str = typer.Argument(..., help='Function path, e.g. "messages:list".'),
    args: str = typer.Argument("{}", help="Arguments as a JSON object."),
    watch: bool = typer.Option(False, "--watch", help="Subscribe (queries): print every new result."),
    url: str | None = UrlOption,
    admin_key: str | None = TargetAdminKeyOption,
) -> None:
    """Run FUNCTION with ARGS on the deployment and print the result as JSON.

    Numbers in ARGS are float64 (as JSON's are on Convex's wire), except where the
    function's validator expects an int64 (v.int64(), an int annotation): there an
    integral number is sent as an int64.

    Examples:

      pyconvex run channels:list

      pyconvex run messages:send '{"channelId": "...", "text": "hi"}'

      pyconvex run messages:list '{"channelId": "..."}' --watch
    """
    target = resolve(url, admin_key)
    try:
        values = json_to_convex(_args(args))
    except PyConvexError as e:
        raise fail(f"ARGS: {e}") from None
    parsed = _int64_where_expected(_arg_spec(target, function), values)
    if watch:
        try:
            asyncio.run(_watch(target, function, parsed))
        except KeyboardInterrupt:
            pass
        return
    module, _, name = function.partition(":")
    path = "/".join([*module.split("/"), name or "default"])
    body = request(target, "POST", f"/api/run/{path}",
                   json={"args": convex_to_json(parsed), "format": "json"})
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
