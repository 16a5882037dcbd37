"""``pyconvex logs``: follow the deployment's function log lines."""

from __future__ import annotations

import time

import typer

from pyconvex.cli.options import TargetAdminKeyOption, UrlOption
from pyconvex.cli.target import request, resolve


def logs(
    url: str | None = UrlOption,
    admin_key: str | None = TargetAdminKeyOption,
    success: bool = typer.Option(
        False, "--success", help="Also print executions that logged nothing and succeeded."
    ),
) -> None:
    """Follow function executions: their log lines and errors, as they happen.

    Examples:

      pyconvex logs

      pyconvex logs --success --url http://127.0.0.1:3210 --admin-key "$KEY"
    """
    target = resolve(url, admin_key)
    after = request(target, "GET", "/api/pyconvex/logs", params={"after": -1})["last"]
    try:
        while True:
            body = request(
                target, "GET", "/api/pyconvex/logs", params={"after": after, "wait": 25}, timeout=60
            )
            for entry in body["entries"]:
                stamp = time.strftime("%H:%M:%S", time.localtime(entry["timestamp"] / 1000))
                head = f"{stamp} [{entry['kind'][0].upper()}] {entry['path']}"
                for line in entry["logLines"]:
                    typer.echo(f"{head} {line}")
                if entry["error"]:
                    rid = entry.get("requestId")
                    typer.secho(f"{head} {entry['error']}"
                                + (f" [Request ID: {rid}]" if rid else ""), fg="red")
                    if entry.get("traceback"):
                        typer.secho(entry["traceback"].rstrip(), fg="red")
                elif success and not entry["logLines"]:
                    typer.echo(f"{head} ok ({entry['durationMs']:.1f} ms)")
            after = body["last"]
    except KeyboardInterrupt:
        pass
