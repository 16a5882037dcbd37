"""The tests' local OpenID Provider: npm ``oidc-provider`` (a certified implementation)
run by ``oidc_server.mjs``, with its development login and consent pages."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from ...conftest import free_port

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
