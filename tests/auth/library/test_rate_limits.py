"""Failed sign-ins and code attempts limited per client address, over the wire.

``pyconvex serve`` with the limit set to 5 an hour per address (TEST_IP_LIMIT); calls
go over HTTP from different loopback addresses (all of 127/8 is this host), so the
server sees different peers, as it would see different clients.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ...conftest import start_server, stop_server
from .conftest import APP, keys

LIMIT = 5
REFUSED = re.compile(rf"Too many failed sign-in attempts from (\S+) \({LIMIT} an hour are allowed\); "
                     r"try again in (\d+) minutes\.")


@pytest.fixture
def served(tmp_path: Path, mailbox: Any) -> Iterator[str]:
    env = {**keys(), "SITE_URL": "http://127.0.0.1:5173", "TEST_IP_LIMIT": str(LIMIT)}
    proc, url = start_server(tmp_path / "db.sqlite3", APP, env=env)
    try:
        yield url
    finally:
        stop_server(proc)


def sign_in(url: str, source: str, email: str, password: str, flow: str = "signIn") -> dict[str, Any]:
    """``auth:signIn`` over HTTP from the address ``source``: the reply's body."""
    args = {"provider": "password", "params": {"flow": flow, "email": email, "password": password}}
    return call(url, source, args)


def call(url: str, source: str, args: dict[str, Any]) -> dict[str, Any]:
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=30) as client:
        body: dict[str, Any] = client.post(f"{url}/api/action", json={
            "path": "auth:signIn", "args": args, "format": "json"}).json()
    return body


def table(url: str, name: str) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = httpx.get(
        f"{url}/api/pyconvex/data", params={"table": name, "limit": 1000},
        headers={"Authorization": "Convex test-admin-key"}).json()["documents"]
    return docs


def test_failed_sign_ins_for_many_accounts_from_one_address_are_refused(served: str) -> None:
    accounts = [f"user{i}@example.test" for i in range(LIMIT + 1)]
    for email in accounts:
        made = sign_in(served, "127.0.0.10", email, "right-password-1", flow="signUp")
        assert made["status"] == "success" and made["value"]["tokens"], made

    # One address tries a wrong password once against each of five accounts...
    for email in accounts[:LIMIT]:
        failed = sign_in(served, "127.0.0.2", email, "guess-guess-1")
        assert failed["status"] == "error" and failed["errorData"] == "Invalid credentials", failed
    # ...and is then refused for any account, even with the right password; the error
    # names the address, the limit and when to try again.
    refused = sign_in(served, "127.0.0.2", accounts[LIMIT], "right-password-1")
    assert refused["status"] == "error", refused
    found = REFUSED.fullmatch(refused["errorData"])
    assert found and found.group(1) == "127.0.0.2", refused["errorData"]
    assert 1 <= int(found.group(2)) <= 12  # one attempt refills in 60 / 5 = 12 minutes
    # An unknown account from that address: the same refusal (nothing to probe).
    assert REFUSED.fullmatch(sign_in(served, "127.0.0.2", "nobody@example.test", "x-guess-12")["errorData"])

    # Another address is not affected: a wrong password is just wrong, the right one works.
    other = sign_in(served, "127.0.0.3", accounts[0], "guess-guess-2")
    assert other["errorData"] == "Invalid credentials"
    assert sign_in(served, "127.0.0.3", accounts[0], "right-password-1")["value"]["tokens"]

    # Successful sign-ins do not use up an address's allowance: more than the limit pass.
    for _ in range(LIMIT + 2):
        assert sign_in(served, "127.0.0.4", accounts[LIMIT], "right-password-1")["value"]["tokens"]

    # The tables: one bucket per address that failed and per account that was guessed at
    # (none for addresses that only succeeded), and sessions only for successes.
    limits = {d["identifier"]: d["attemptsLeft"] for d in table(served, "authRateLimits")}
    assert limits["ip:127.0.0.2"] < 1
    # 127.0.0.3 failed once then succeeded once: the success gave back its own charge only.
    assert LIMIT - 1 <= limits["ip:127.0.0.3"] < LIMIT
    assert "ip:127.0.0.4" not in limits and "ip:127.0.0.10" not in limits
    ids = {d["providerAccountId"]: d["_id"] for d in table(served, "authAccounts")}
    # Each guessed account lost one attempt, except accounts[0], reset by its success.
    assert [ids[e] in limits for e in accounts] == [False] + [True] * (LIMIT - 1) + [False]
    assert all(9 <= limits[ids[e]] < 10 for e in accounts[1:LIMIT])
    assert "password:nobody@example.test" not in limits  # refused before any charge
    sessions = table(served, "authSessions")
    assert len(sessions) == len(accounts) + 1 + LIMIT + 2
    assert len(table(served, "users")) == len(accounts)


def test_wrong_codes_from_one_address_are_refused(served: str, mailbox: Any) -> None:
    for attempt in range(LIMIT):
        wrong = call(served, "127.0.0.7", {"params": {"code": f"not-a-code-{attempt}"}})
        assert wrong["status"] == "success" and wrong["value"] == {"tokens": None}, wrong
    refused = call(served, "127.0.0.7", {"params": {"code": "not-a-code-again"}})
    assert refused["status"] == "error" and REFUSED.fullmatch(refused["errorData"]), refused

    # A real magic link still works from another address.
    started = call(served, "127.0.0.8", {"provider": "email", "params": {"email": "link@example.test"}})
    assert started["value"] == {"started": True}
    code = re.search(r"code=(\w+)", mailbox.last_text())
    assert code is not None
    done = call(served, "127.0.0.8", {"params": {"code": code.group(1)}})
    assert done["value"]["tokens"], done
    limits = {d["identifier"] for d in table(served, "authRateLimits")}
    assert limits == {"ip:127.0.0.7"}
