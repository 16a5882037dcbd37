"""The dev loop: serve the local deployment, and on every save reload, push, regenerate.

A save that does not load (a syntax error, a failing import) or a schema the existing
data violates is reported with its location or the first bad document, and the
previous code keeps serving: the loop never leaves the deployment without code.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import watchfiles
from rich.console import Console

from pyconvex.auth import generate_keys
from pyconvex.codegen import bootstrap_generated, generate_files
from pyconvex.deployment import Deployment
from pyconvex.dev.state import (
    DeploymentInfo,
    admin_key_for,
    state_dir_for,
    write_deployment_info,
)
from pyconvex.errors import BadRequestError, PyConvexError
from pyconvex.functions import ExecutionRecord, FunctionsLoadError
from pyconvex.server.app import create_app
from pyconvex.server.dashboard_api import dashboard_url
from pyconvex.server.http_actions import create_site_app
from pyconvex.server.logging_setup import configure_server_logging
from pyconvex.server.runner import check_port, serve_with_site, site_server, uvicorn_server, wait_started

IGNORED_DIRS = {"_generated", "__pycache__", "node_modules"}
AUTH_STORE = "auth:store"  # present when convex/auth.py uses pyconvex.auth's convex_auth


class DevError(BadRequestError):
    short_msg = "DevStartup"


def _watch_filter(change: watchfiles.Change, path: str) -> bool:
    parts = Path(path).parts
    if any(p in IGNORED_DIRS or p.startswith(".") for p in parts):
        return False
    return path.endswith(".py")


class DevServer:
    """One ``pyconvex dev`` session; ``run()`` until cancelled."""

    def __init__(
        self,
        functions_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 3210,
        web_dir: Path | None = None,
        site_port: int | None = None,
        tail_logs: bool = True,
        console: Console | None = None,
    ) -> None:
        self.functions_dir = functions_dir
        self.host = host
        self.port = port
        self.web_dir = web_dir
        self.site_port = site_port
        self.tail_logs = tail_logs
        self.console = console or Console(highlight=False)
        self.deployment: Deployment | None = None
        self.url = f"http://{host}:{port}"

    def _check(self) -> None:
        if not self.functions_dir.exists():
            raise DevError(
                f"The functions directory {self.functions_dir} does not exist: create it, run "
                "`pyconvex init`, or pass --functions DIR."
            )
        if not self.functions_dir.is_dir():
            raise DevError(f"{self.functions_dir} is not a directory (--functions DIR).")
        if self.web_dir is not None and not self.web_dir.is_dir():
            raise DevError(f"The web directory {self.web_dir} does not exist (--web DIR).")
        check_port(self.host, self.port)
        if self.site_port is not None:
            check_port(self.host, self.site_port, "--site-port")

    async def _ensure_auth_keys(self) -> None:
        """pyconvex.auth signs tokens with the deployment's own key pair: the first time its
        functions load in dev, make one (what ``pyconvex auth init`` does)."""
        assert self.deployment is not None
        env = self.deployment.environment
        if "JWT_PRIVATE_KEY" in env or "JWKS" in env:
            return
        await self.deployment.set_environment(dict(generate_keys()))
        self.console.print("Created the pyconvex.auth signing keys (env JWT_PRIVATE_KEY and JWKS).",
                           soft_wrap=True)

    async def reload(self) -> bool:
        """Load the code, push its schema, regenerate ``_generated/``; report. True if it took."""
        assert self.deployment is not None
        started = time.perf_counter()
        before = set(self.deployment.registry.functions)
        try:
            bootstrap_generated(self.functions_dir)
            result = await self.deployment.load(self.functions_dir)
        except FunctionsLoadError as e:
            self._fail(e.message)
            return False
        except PyConvexError as e:
            self._fail(e.message)
            return False
        registry = self.deployment.registry
        if AUTH_STORE in registry.functions:
            await self._ensure_auth_keys()
        generated = generate_files(registry).write(self.functions_dir / "_generated")
        after = set(registry.functions)
        ms = (time.perf_counter() - started) * 1000
        parts = [f"{len(after)} functions"]
        if after - before and before:
            parts.append("added " + ", ".join(sorted(after - before)))
        if before - after:
            parts.append("removed " + ", ".join(sorted(before - after)))
        if result is not None and result.describe() != "no changes":
            parts.append("schema: " + result.describe())
        if generated:
            parts.append("regenerated " + ", ".join(f"_generated/{n}" for n in generated))
        self.console.print(
            f"[green]✔[/] {time.strftime('%H:%M:%S')} Functions ready ({ms:.0f} ms): "
            + "; ".join(parts),
            soft_wrap=True,
        )
        return True

    def _fail(self, message: str) -> None:
        self.console.print(
            f"[red]✖[/] {time.strftime('%H:%M:%S')} {message}\n"
            "  The previous code keeps serving; fix the error and save again.",
            soft_wrap=True,
        )

    def _print_execution(self, record: ExecutionRecord) -> None:
        if not record.log_lines and record.error is None:
            return
        head = f"{time.strftime('%H:%M:%S')} [{record.kind[0].upper()}] {record.path}"
        for line in record.log_lines:
            self.console.print(f"[dim]{head}[/] {line}", markup=True, soft_wrap=True, highlight=False)
        if record.error is not None:
            rid = f" [Request ID: {record.request_id}]" if record.request_id else ""
            self.console.print(f"[dim]{head}[/] [red]{record.error}[/]{rid}", soft_wrap=True,
                               markup=True, highlight=False)
            if record.traceback:
                self.console.print(record.traceback.rstrip(), markup=False, soft_wrap=True,
                                   highlight=False, style="red")

    async def run(self, ready: Callable[[DeploymentInfo], Any] | None = None) -> None:
        self._check()
        configure_server_logging(json=False, failures=not self.tail_logs)
        state_dir = state_dir_for(self.functions_dir)
        state_dir.mkdir(exist_ok=True)
        (state_dir / ".gitignore").write_text("*\n")
        admin_key = admin_key_for(state_dir)
        self.deployment = await Deployment.open(
            f"sqlite:///{state_dir / 'db.sqlite3'}", None, files=state_dir / "files",
            public_url=self.url, isolate_actions=True,
            site_url=f"http://{self.host}:{self.site_port}" if self.site_port is not None else None,
        )
        app = create_app(self.deployment, admin_key=admin_key, close_deployment=True,
                         web_dir=self.web_dir)
        if self.tail_logs:
            self.deployment.runner.listeners.append(self._print_execution)
        await self.reload()
        server = uvicorn_server(app, self.host, self.port)
        site = (site_server(create_site_app(app.state.server), self.host, self.site_port)
                if self.site_port is not None else None)
        serving = asyncio.get_running_loop().create_task(serve_with_site(server, site))
        stop = asyncio.Event()
        serving.add_done_callback(lambda _: stop.set())  # Ctrl-C / SIGTERM reach uvicorn
        try:
            while not server.started:
                if serving.done():
                    serving.result()
                    raise DevError(f"The server on {self.url} did not start.")
                await asyncio.sleep(0.02)
            await wait_started(server)
            info = DeploymentInfo(self.url, admin_key)
            write_deployment_info(state_dir, info)
            self.console.print(f"Deployment URL: [bold]{self.url}[/]", soft_wrap=True)
            if site is not None:
                self.console.print(f"HTTP actions:   http://{self.host}:{self.site_port}", soft_wrap=True)
            if self.web_dir is not None:
                self.console.print(f"Web page:       [bold]{self.url}/[/]", soft_wrap=True)
            self.console.print(f"Admin key:      {admin_key}", soft_wrap=True)
            self.console.print(f"Dashboard:      {dashboard_url(self.url, admin_key)}",
                               soft_wrap=True, markup=False)
            watching = False
            # yield_on_timeout: the first (empty) yield says the watcher is running, so
            # "Watching" is printed only when a save can no longer be missed.
            async for changes in watchfiles.awatch(
                self.functions_dir, watch_filter=_watch_filter, step=50, debounce=400,
                stop_event=stop, yield_on_timeout=True, rust_timeout=300,
            ):
                if not watching:
                    watching = True
                    self.console.print(
                        f"Watching {self.functions_dir} for changes (Ctrl-C to stop).",
                        soft_wrap=True,
                    )
                    if ready is not None:
                        ready(info)
                if changes:
                    await self.reload()
        finally:
            server.should_exit = True
            try:
                await serving
            except BaseException:
                pass


async def run_dev(functions_dir: Path, **options: Any) -> None:
    await DevServer(functions_dir, **options).run()
