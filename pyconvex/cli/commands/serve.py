"""``pyconvex serve``: run a deployment's HTTP and WebSocket server."""

from __future__ import annotations

from pathlib import Path

import typer

from pyconvex.cli.options import HostOption, PortOption, SitePortOption, WebOption
from pyconvex.errors import BadRequestError, PyConvexError
from pyconvex.functions import DEFAULT_FUNCTION_LIMITS, FunctionLimits
from pyconvex.functions.runtime.limits import MiB
from pyconvex.server.client_address import parse_trusted_proxies, trusted_proxies_from_env
from pyconvex.server.log_streams import SinkConfig
from pyconvex.server.runner import run_on_server_loop
from pyconvex.server.runner import serve as run_server


def serve(
    functions: Path | None = typer.Option(
        None, "--functions", envvar="PYCONVEX_FUNCTIONS",
        help="The functions directory to serve (default: the code last uploaded by "
        "`pyconvex deploy`, kept in the database).",
    ),
    db: str = typer.Option(
        "sqlite:///.pyconvex/db.sqlite3", "--db", envvar="PYCONVEX_DB",
        help="sqlite:///path, or postgresql://user@host/db (several processes may share one).",
    ),
    host: str = HostOption,
    port: int = PortOption,
    admin_key: str | None = typer.Option(
        None, "--admin-key", envvar="PYCONVEX_ADMIN_KEY",
        help="Admin key (random if not given; printed on start).",
    ),
    public_url: str | None = typer.Option(
        None, "--public-url", envvar="PYCONVEX_PUBLIC_URL",
        help="The URL clients use to reach this deployment, when not http://HOST:PORT (a "
        "container, a reverse proxy): file URLs and CONVEX_CLOUD_URL use it.",
    ),
    site_url: str | None = typer.Option(
        None, "--site-url", envvar="PYCONVEX_SITE_URL",
        help="The URL clients use to reach HTTP actions (CONVEX_SITE_URL), when not "
        "http://HOST:SITE_PORT.",
    ),
    web: Path | None = WebOption,
    site_port: int = SitePortOption,
    retention: float = typer.Option(
        24 * 3600, "--retention", min=60,
        help="Seconds of history kept for time-travel reads; older versions are removed.",
    ),
    files: str | None = typer.Option(
        None, "--files", envvar="PYCONVEX_FILES",
        help="File storage: a folder, or s3://bucket/prefix (default: <db name>-files/ next to "
        "a SQLite database).",
    ),
    function_timeout: float = typer.Option(
        DEFAULT_FUNCTION_LIMITS.query_mutation_s, "--function-timeout", min=0.01,
        help="Seconds of user code time a query or mutation may run before it is stopped.",
    ),
    action_timeout: float = typer.Option(
        DEFAULT_FUNCTION_LIMITS.action_s, "--action-timeout", min=0.01,
        help="Seconds an action (or HTTP action) may run before its worker is stopped.",
    ),
    function_memory: int = typer.Option(
        DEFAULT_FUNCTION_LIMITS.query_mutation_memory // MiB, "--function-memory", min=1,
        help="MiB a query or mutation may grow the server's memory by in one stretch of code.",
    ),
    action_memory: int = typer.Option(
        DEFAULT_FUNCTION_LIMITS.action_memory // MiB, "--action-memory", min=1,
        help="MiB an action may grow its worker process's memory by.",
    ),
    log_stream: list[str] = typer.Option(
        [], "--log-stream", metavar="KIND:TARGET",
        help="Stream function executions and server errors (repeatable): webhook:URL "
        "(batched JSON POSTs), otlp:URL (OpenTelemetry logs, e.g. "
        "otlp:http://collector:4318/v1/logs) or jsonl:PATH (jsonl:- for stdout). For this "
        "process only; "
        "`pyconvex log-streams add` keeps one in the deployment.",
    ),
    log_format: str = typer.Option(
        "text", "--log-format", metavar="text|json",
        help="json: also print every function execution and its log lines as JSON lines on "
        "stdout (the same as --log-stream jsonl:-).",
    ),
    public_metrics: bool = typer.Option(
        False, "--public-metrics",
        help="Serve /metrics without the admin key (for a Prometheus on a private network).",
    ),
    trusted_proxy: list[str] = typer.Option(
        [], "--trusted-proxy", metavar="ADDRESS|NETWORK",
        help="A reverse proxy whose X-Forwarded-For names the client (repeatable; e.g. "
        "127.0.0.1 or 10.0.0.0/8; default: none, the client is the TCP peer). Functions see "
        "the address in ctx.meta.get_request_metadata(); pyconvex.auth rate-limits failed "
        "sign-ins by it. Also PYCONVEX_TRUSTED_PROXIES (comma-separated).",
    ),
) -> None:
    """Serve the functions in FUNCTIONS over Convex's HTTP API and sync protocol.

    Examples:

      pyconvex serve --functions convex --db sqlite:///data/app.sqlite3

      pyconvex serve --port 4000 --admin-key "$ADMIN_KEY"

      pyconvex serve --db sqlite:///data/app.sqlite3   (serves the code from `pyconvex deploy`)
    """
    try:
        if web is not None and not web.is_dir():
            raise BadRequestError(f"The web directory {web} does not exist (--web DIR).")
        if log_format not in ("text", "json"):
            raise BadRequestError(f"--log-format must be text or json, not {log_format!r}.")
        streams = [SinkConfig.parse(spec) for spec in log_stream]
        proxies = (parse_trusted_proxies(p for spec in trusted_proxy for p in spec.split(","))
                   if trusted_proxy else trusted_proxies_from_env())
        if log_format == "json":
            streams.append(SinkConfig("jsonl", "-", id="stdout"))
        run_on_server_loop(run_server(functions, db, host=host, port=port, admin_key=admin_key,
                                      web_dir=web, site_port=site_port or None, files=files,
                                      retention_s=retention,
                                      limits=FunctionLimits(
                                          function_timeout, action_timeout,
                                          function_memory * MiB, action_memory * MiB,
                                      ),
                                      log_streams=streams, public_metrics=public_metrics,
                                      public_url=public_url, site_url=site_url,
                                      trusted_proxies=proxies))
    except PyConvexError as e:
        typer.echo(f"pyconvex: {e.message}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        pass
