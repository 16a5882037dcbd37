"""pyconvex.auth: password sign-in latency, and what authentication adds to a query.

    .venv/bin/python bench/auth.py --runs 3

One `pyconvex serve` (actions in worker processes) serves examples/auth with a fresh
key pair. Reported, medians over `--runs` runs:
  (a) password sign-in (`auth:signIn`, flow signIn, over HTTP) p50/p99 in ms, against
      (a0) one argon2id verification at the same parameters (OWASP's: 19 MiB, t=2, p=1)
      in this process: the floor a sign-in cannot go below;
  (b) query round trip over the WebSocket (pyconvex.client), `auth:isAuthenticated`
      (the same work either way), p50/p99, signed in against signed out, alternating in
      the same run. Goal (issue 16): authenticated/unauthenticated <= 1.2: the token is
      verified once per connection, not per call;
  (c) the same over HTTP, where every request carries its Bearer token (remembered
      by the verifier after its first check, until it expires);
  (d) a wrong password against an unknown email (both "Invalid credentials"): p50 of
      each and their ratio, which should be near 1 (no timing oracle for accounts).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from pyconvex.auth import generate_keys
from pyconvex.auth.library.accounts import _HASHER
from pyconvex.client import AsyncConvexClient

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "examples" / "auth" / "convex"
EMAIL, PASSWORD = "bench@example.test", "bench-password-1"
#: Does the same work signed in or out (reads the identity), so the ratio is auth's cost.
QUERY = "auth:isAuthenticated"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, **generate_keys(), "SITE_URL": "http://127.0.0.1:5173"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyconvex.cli.main", "serve", "--functions", str(APP),
         "--db", f"sqlite:///{tmp / 'db.sqlite3'}", "--port", str(port), "--site-port", str(free_port())],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/version", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def sign_ins(url: str, n: int) -> list[float]:
    body = {"path": "auth:signIn", "format": "json",
            "args": {"provider": "password", "params": {"flow": "signIn", "email": EMAIL, "password": PASSWORD}}}
    out = []
    with httpx.Client(timeout=30) as client:
        for _ in range(n):
            started = time.perf_counter()
            r = client.post(f"{url}/api/action", json=body)
            out.append((time.perf_counter() - started) * 1000)
            assert r.json()["value"]["tokens"], r.text
    return out


def refusals(url: str, n: int) -> tuple[list[float], list[float]]:
    """Wrong password for ``n`` accounts (one try each, under the rate limit) against
    ``n`` unknown emails: the two must look and take alike."""
    wrong, unknown = [], []
    with httpx.Client(timeout=30) as client:
        for i in range(n):
            params = {"flow": "signUp", "email": f"r{i}@example.test", "password": PASSWORD}
            client.post(f"{url}/api/action", json={"path": "auth:signIn", "format": "json",
                                                   "args": {"provider": "password", "params": params}})
        for i in range(n):
            for email, sink in ((f"r{i}@example.test", wrong), (f"nobody{i}@example.test", unknown)):
                params = {"flow": "signIn", "email": email, "password": "not-the-password"}
                started = time.perf_counter()
                r = client.post(f"{url}/api/action", json={"path": "auth:signIn", "format": "json",
                                                           "args": {"provider": "password", "params": params}})
                sink.append((time.perf_counter() - started) * 1000)
                assert r.json().get("errorData") == "Invalid credentials", r.text
    return wrong, unknown


def argon2_floor(n: int) -> list[float]:
    hashed = _HASHER.hash(PASSWORD)
    out = []
    for _ in range(n):
        started = time.perf_counter()
        _HASHER.verify(hashed, PASSWORD)
        out.append((time.perf_counter() - started) * 1000)
    return out


async def ws_round_trips(url: str, token: str, n: int) -> tuple[list[float], list[float]]:
    authed, anon = AsyncConvexClient(url), AsyncConvexClient(url)
    authed.set_auth(token)
    assert await authed.query("notes:me") is not None and await anon.query("notes:me") is None
    a, u = [], []
    for _ in range(n):
        for client, sink in ((authed, a), (anon, u)):
            started = time.perf_counter()
            await client.query(QUERY)
            sink.append((time.perf_counter() - started) * 1000)
    await authed.aclose()
    await anon.aclose()
    return a, u


def http_round_trips(url: str, token: str, n: int) -> tuple[list[float], list[float]]:
    body = {"path": QUERY, "args": {}, "format": "json"}
    a, u = [], []
    with httpx.Client(timeout=30) as client:
        for _ in range(n):
            for headers, sink in (({"Authorization": f"Bearer {token}"}, a), ({}, u)):
                started = time.perf_counter()
                client.post(f"{url}/api/query", json=body, headers=headers)
                sink.append((time.perf_counter() - started) * 1000)
    return a, u


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sign-ins", type=int, default=50)
    parser.add_argument("--queries", type=int, default=2000)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {}
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            proc, url = start(Path(tmp))
            try:
                up = httpx.post(f"{url}/api/action", timeout=30, json={"path": "auth:signIn", "format": "json", "args": {
                    "provider": "password", "params": {"flow": "signUp", "email": EMAIL, "password": PASSWORD}}})
                token = up.json()["value"]["tokens"]["token"]
                s = sign_ins(url, args.sign_ins)
                f = argon2_floor(args.sign_ins)
                rw, ru = refusals(url, 10)
                wa, wu = asyncio.run(ws_round_trips(url, token, args.queries))
                ha, hu = http_round_trips(url, token, args.queries)
            finally:
                proc.terminate()
                proc.wait(30)
        for name, values in (("a. sign-in p50", [pct(s, .5)]), ("a. sign-in p99", [pct(s, .99)]),
                             ("a0. argon2id verify p50", [pct(f, .5)]),
                             ("d. wrong password p50", [pct(rw, .5)]), ("d. unknown email p50", [pct(ru, .5)]),
                             ("d. ratio unknown / wrong", [pct(ru, .5) / pct(rw, .5)]),
                             ("b. WS query signed in p50", [pct(wa, .5)]), ("b. WS query signed out p50", [pct(wu, .5)]),
                             ("b. WS query signed in p99", [pct(wa, .99)]), ("b. WS query signed out p99", [pct(wu, .99)]),
                             ("b. WS p50 ratio in/out (goal <= 1.2)", [pct(wa, .5) / pct(wu, .5)]),
                             ("c. HTTP query Bearer p50", [pct(ha, .5)]), ("c. HTTP query no auth p50", [pct(hu, .5)]),
                             ("c. HTTP p50 ratio in/out", [pct(ha, .5) / pct(hu, .5)])):
            rows.setdefault(name, []).extend(values)
    print(f"| figure (ms unless a ratio) | median of {args.runs} | runs |")
    print("|---|---|---|")
    for name, values in rows.items():
        print(f"| {name} | {statistics.median(values):.2f} | {', '.join(f'{v:.2f}' for v in values)} |")


if __name__ == "__main__":
    main()
