"""``pyconvex log-streams``: where the deployment streams function executions.

The configuration lives in the deployment (every process serving it, and every
restart, streams to the same places); ``pyconvex serve --log-stream`` adds sinks for
one process only.
"""

from __future__ import annotations

import typer

from pyconvex.cli.options import TargetAdminKeyOption, UrlOption
from pyconvex.cli.target import fail, request, resolve

log_streams_app = typer.Typer(
    name="log-streams",
    help=(
        "Stream every function execution, its log lines, and the server's errors to a "
        "webhook, OpenTelemetry (OTLP/HTTP) or a JSON-lines file, batched and retried "
        "(docs/production.md)."
    ),
    epilog=(
        "\b\nExamples:\n  pyconvex log-streams add webhook https://logs.example.com/convex\n"
        "  pyconvex log-streams list\n  pyconvex log-streams test 3f9a1c2e\n"
        "  pyconvex log-streams remove 3f9a1c2e"
    ),
    no_args_is_help=True,
)


def add(
    kind: str = typer.Argument(
        ..., help="webhook (JSON POSTs), otlp (OpenTelemetry logs over HTTP) or jsonl (a file).",
    ),
    target: str = typer.Argument(
        ..., help="The webhook's URL, the OTLP logs endpoint (http://collector:4318/v1/logs), "
        "or the JSON-lines file's path (- for stdout).",
    ),
    header: list[str] = typer.Option(
        [], "--header", metavar="NAME:VALUE",
        help="A header sent with every webhook or OTLP request (repeatable), e.g. an "
        "Authorization header.",
    ),
    batch_size: int = typer.Option(100, "--batch-size", min=1, help="Events per request at most."),
    flush_interval: float = typer.Option(
        1.0, "--flush-interval", min=0.01, help="Seconds a partial batch waits for more events.",
    ),
    max_buffer: int = typer.Option(
        10_000, "--max-buffer", min=1,
        help="Events held while the receiver is slow or down; beyond, events are dropped and "
        "counted.",
    ),
    url: str | None = UrlOption,
    admin_key: str | None = TargetAdminKeyOption,
) -> None:
    """Add a log stream and keep it in the deployment.

    Examples:

      pyconvex log-streams add webhook https://logs.example.com/convex --header "Authorization:Bearer abc"

      pyconvex log-streams add otlp http://otel-collector:4318/v1/logs

      pyconvex log-streams add jsonl /var/log/pyconvex/functions.jsonl
    """
    headers = {}
    for item in header:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise fail(f"--header {item!r}: expected NAME:VALUE.")
        headers[name.strip()] = value.strip()
    body = {"kind": kind, "target": target, "headers": headers, "batch_size": batch_size,
            "flush_interval_s": flush_interval, "max_buffer": max_buffer}
    stream = request(resolve(url, admin_key), "POST", "/api/pyconvex/log_streams", json=body)["stream"]
    typer.echo(f"Added log stream {stream['id']} ({stream['kind']} {stream['target']}).")


def list_(url: str | None = UrlOption, admin_key: str | None = TargetAdminKeyOption) -> None:
    """List the log streams with what each sent, dropped and holds.

    Examples:

      pyconvex log-streams list
    """
    streams = request(resolve(url, admin_key), "GET", "/api/pyconvex/log_streams")["streams"]
    if not streams:
        typer.echo("No log streams.")
    for s in streams:
        where = "kept in the deployment" if s["persistent"] else "this process only"
        line = (f"{s['id']}  {s['kind']} {s['target']}  sent {s['sent']}, dropped {s['dropped']}, "
                f"buffered {s['buffered']}  ({where})")
        if s.get("lastError"):
            line += f"\n    last error: {s['lastError']}"
        typer.echo(line)


def remove(
    stream_id: str = typer.Argument(..., help="The stream's id (from `pyconvex log-streams list`)."),
    url: str | None = UrlOption,
    admin_key: str | None = TargetAdminKeyOption,
) -> None:
    """Stop a log stream and forget it.

    Examples:

      pyconvex log-streams remove 3f9a1c2e
    """
    request(resolve(url, admin_key), "DELETE", f"/api/pyconvex/log_streams/{stream_id}")
    typer.echo(f"Removed log stream {stream_id}.")


def test(
    stream_id: str = typer.Argument(..., help="The stream's id (from `pyconvex log-streams list`)."),
    url: str | None = UrlOption,
    admin_key: str | None = TargetAdminKeyOption,
) -> None:
    """Send a test event and wait until it is delivered (or say why not).

    Examples:

      pyconvex log-streams test 3f9a1c2e
    """
    result = request(resolve(url, admin_key), "POST", f"/api/pyconvex/log_streams/{stream_id}/test")
    if not result["delivered"]:
        raise fail(f"The test event was not delivered: {result['stream'].get('lastError')}")
    typer.echo(f"Delivered a test event to {result['stream']['target']}.")
