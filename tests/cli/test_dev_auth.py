"""``pyconvex dev`` makes pyconvex.auth's signing keys the first time, and only then."""

from __future__ import annotations

import shutil
from pathlib import Path

from convex import ConvexClient

from tests.cli.devproc import DevProcess

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "auth" / "convex"


def test_first_dev_run_creates_the_signing_keys(tmp_path: Path) -> None:
    project = tmp_path / "app"
    shutil.copytree(EXAMPLE, project / "convex", ignore=shutil.ignore_patterns("_generated", "__pycache__"))
    dev = DevProcess(project)
    try:
        dev.expect("Created the pyconvex.auth signing keys")
        dev.expect("Watching")
        client = ConvexClient(dev.url)
        tokens = client.action("auth:signIn", {"provider": "password", "params": {
            "flow": "signUp", "email": "dev@example.test", "password": "dev-password-1"}})["tokens"]
        client.set_auth(tokens["token"])
        assert client.query("notes:me")["email"] == "dev@example.test"
        listed = dev.cli("env", "list")
        assert "JWT_PRIVATE_KEY=" in listed.stdout and "JWKS=" in listed.stdout
    finally:
        dev.stop()
    again = DevProcess(project)
    try:
        again.expect("Watching")
        assert not any("Created the pyconvex.auth" in line for line in again.output)
    finally:
        again.stop()
