"""The tests' local OpenID Provider: npm ``oidc-provider`` (a certified implementation)
run by ``oidc_server.mjs``, with its development login and consent pages."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Page

from pyconvex.auth import generate_keys

from ...conftest import free_port, start_server, stop_server

SERVER = Path(__file__).with_name("oidc_server.mjs")
ROOT = Path(__file__).resolve().parents[3]  # where node_modules/oidc-provider is


@contextlib.contextmanager
def oidc_issuer(log_dir: Path, redirect_uri: str) -> Iterator[str]:
    """A provider accepting ``redirect_uri`` (client ``pyconvex-test`` / ``test-secret``;
    a second client, ``pyconvex-oauth`` / ``oauth-secret``, for the same URI ending in
    ``oauth-test``); yields its issuer URL once it listens."""
    port = free_port()
    with (log_dir / "issuer.log").open("w") as log:
        issuer = subprocess.Popen(["node", str(SERVER), str(port), redirect_uri],
                                  cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            assert issuer.stdout is not None and issuer.stdout.readline().strip() == "ready"
            yield f"http://127.0.0.1:{port}"
        finally:
            issuer.terminate()
            issuer.wait(10)
            if issuer.stdout:
                issuer.stdout.close()


@contextlib.contextmanager
def example_with_oidc(tmp_path: Path, functions: Path, web: Path) -> Iterator[str]:
    """``pyconvex serve`` of an example (its page from ``web``) with the local provider
    configured as its ``oidc`` provider (AUTH_OIDC_*), as a dev set-up would run it."""
    assert (web / "index.html").exists(), "build the page first: make web"
    port, site_port = free_port(), free_port()
    url, site = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{site_port}"
    with oidc_issuer(tmp_path, f"{site}/api/auth/callback/oidc") as issuer:
        env = {**generate_keys(), "SITE_URL": url, "AUTH_OIDC_ISSUER": issuer,
               "AUTH_OIDC_ID": "pyconvex-test", "AUTH_OIDC_SECRET": "test-secret"}
        proc, served = start_server(tmp_path / "app.sqlite3", functions, port=port, env=env,
                                    extra=["--web", str(web), "--site-port", str(site_port)])
        try:
            yield served
        finally:
            stop_server(proc)


def log_in_at_provider(page: Page, login: str) -> None:
    """The provider's own (development) login and consent pages, in the browser."""
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("anything")
    page.locator("button[type=submit]").click()
    page.locator("button[type=submit]").click()  # consent: "Continue"
