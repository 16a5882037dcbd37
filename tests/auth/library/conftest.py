"""Fixtures for the auth library: the deployment's keys in the environment, a real SMTP
server (aiosmtpd) that keeps what it receives, and a verifier for issued tokens."""

from __future__ import annotations

import email
import functools
import os
import re
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller

from pyconvex.auth import TokenVerifier, generate_keys
from pyconvex.testing import ConvexTest

from ...conftest import FIXTURES, free_port

APP = FIXTURES / "passwordapp" / "convex"


@functools.cache
def keys() -> dict[str, str]:
    return generate_keys()


class Mailbox:
    """An SMTP handler keeping every message, with a wait for the next one to an address."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    @staticmethod
    def text(message: Message) -> str:
        """The decoded body (long lines arrive quoted-printable)."""
        payload = message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode()

    def last_text(self) -> str:
        return self.text(self.messages[-1])

    def code_for(self, address: str) -> str:
        """The code in the newest message to ``address`` (the test waits for the action
        that sent it, so the message is already here)."""
        for message in reversed(self.messages):
            if message["To"] == address:
                found = re.search(r"Your code is (\S+)", self.text(message))
                assert found, self.text(message)
                return found.group(1)
        raise AssertionError(f"no mail to {address}; got {[m['To'] for m in self.messages]}")


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("TEST_SMTP_PORT", str(port))
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def auth_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {**keys(), "SITE_URL": "http://127.0.0.1:5173"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
async def t(auth_env: dict[str, str], mailbox: Mailbox, tmp_path: Path) -> Any:
    async with ConvexTest(APP) as test:
        # The deployment sets CONVEX_SITE_URL for functions (its HTTP actions' URL).
        auth_env["CONVEX_SITE_URL"] = os.environ["CONVEX_SITE_URL"]
        yield test


def verifier(env: dict[str, str]) -> TokenVerifier:
    """What a deployment whose auth_config names this site would accept: the JWKS
    served at the site URL, handed over as a data: URL (no server in ConvexTest)."""
    return TokenVerifier([{
        "type": "customJwt", "issuer": env["CONVEX_SITE_URL"], "algorithm": "RS256",
        "jwks": "data:application/json," + quote(env["JWKS"]), "applicationID": "convex",
    }])
