"""A real, local OIDC-style issuer for tests: discovery and JWKS over HTTP, signing keys.

It listens on 127.0.0.1 (port 0) in a thread and serves:

* ``/.well-known/openid-configuration`` -> ``{"issuer": url, "jwks_uri": url + "/jwks"}``
* ``/jwks``     the RSA signing keys (``rotate()`` replaces them) and an Ed25519 key
* ``/ec-jwks``  the P-256 key, for a ``customJwt`` provider with a direct JWKS URL

and counts every request by path, so tests can see exactly what the cache fetched.
:class:`IssuerProcess` serves the same documents from a subprocess, for tests that
block inside the official client.
"""

from __future__ import annotations

import functools
import itertools
import json
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

from tests.conftest import free_port

_kids = itertools.count(1)


@functools.cache
def _rsa_material(slot: int) -> dict[str, Any]:
    """RSA generation is slow (~0.1 s): tests share a few private keys under fresh kids."""
    return dict(RSAKey.generate_key(2048).as_dict(private=True))


def rsa_key(slot: int = 0, kid: str | None = None) -> RSAKey:
    data = {k: v for k, v in _rsa_material(slot % 4).items() if k != "kid"}
    return RSAKey.import_key({**data, "kid": kid or f"rsa-{next(_kids)}"})


class Signer:
    """Signing keys and a token factory for an issuer at ``url``."""

    url: str

    def __init__(self) -> None:
        self.rsa_keys: list[RSAKey] = [rsa_key(0)]
        self.ed_key = OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1"})
        self.ec_key = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.as_dict(private=False) for k in [*self.rsa_keys, self.ed_key]]}

    def token(self, *, key: Key | None = None, alg: str | None = None, header: dict[str, Any] | None = None,
              **claims: Any) -> str:
        """A signed token; ``claim=None`` leaves a default claim out."""
        now = int(time.time())
        payload = {"iss": self.url, "sub": "user-1", "aud": "my-app", "iat": now, "exp": now + 600,
                   "name": "Ann", "email": "ann@example.com", "email_verified": True, **claims}
        payload = {k: v for k, v in payload.items() if v is not None}
        key = key or self.rsa_keys[0]
        if alg is None:
            alg = {"RSA": "RS256", "EC": "ES256", "OKP": "EdDSA"}[key.key_type]
        head: dict[str, Any] = {"alg": alg, "kid": key.kid}
        head.update(header or {})
        head = {k: v for k, v in head.items() if v is not None}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)  # "EdDSA is deprecated via RFC 9864"
            return jwt.encode(head, payload, key, algorithms=[alg])


class Issuer(Signer):
    """The issuer served by a thread of the test process (counts requests, can fail)."""

    def __init__(self, *, cache_control: str | None = None) -> None:
        super().__init__()
        self.cache_control = cache_control
        self.discovery_issuer: str | None = None  # None: advertise our own url
        self.failing: dict[str, int] = {}  # path -> HTTP status to answer instead
        self.extra_jwks: dict[str, dict[str, Any]] = {}  # path -> JWKS document
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with issuer._lock:
                    issuer.requests[self.path] += 1
                    body, status = issuer._answer(self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if issuer.cache_control:
                    self.send_header("Cache-Control", issuer.cache_control)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        # A short poll interval keeps shutdown() (hence each test's teardown) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def _answer(self, path: str) -> tuple[Any, int]:
        if path in self.failing:
            return {"error": "down"}, self.failing[path]
        if path == "/.well-known/openid-configuration":
            return {"issuer": self.discovery_issuer or self.url, "jwks_uri": f"{self.url}/jwks"}, 200
        if path == "/jwks":
            return self.jwks(), 200
        if path == "/ec-jwks":
            return {"keys": [self.ec_key.as_dict(private=False)]}, 200
        if path in self.extra_jwks:
            return self.extra_jwks[path], 200
        return {"error": "not found"}, 404

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @property
    def fetches(self) -> tuple[int, int]:
        """(discovery requests, JWKS requests) so far."""
        return self.requests["/.well-known/openid-configuration"], self.requests["/jwks"]

    def rotate(self, slot: int = 1) -> RSAKey:
        """Replace the RSA signing key by another one with a new kid; return it."""
        self.rsa_keys = [rsa_key(slot)]
        return self.rsa_keys[0]


class IssuerProcess(Signer):
    """The same discovery and JWKS documents, served by another process.

    Needed when the test process blocks inside the official Python client, which holds
    the GIL while it waits (a server thread in this process could not answer).
    """

    def __init__(self, root: Path) -> None:
        super().__init__()
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        (root / ".well-known").mkdir(parents=True, exist_ok=True)
        (root / ".well-known" / "openid-configuration").write_text(
            json.dumps({"issuer": self.url, "jwks_uri": f"{self.url}/jwks"})
        )
        (root / "jwks").write_text(json.dumps(self.jwks()))
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/jwks", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        self.close()
        raise RuntimeError("the issuer process did not answer within 10 s")

    def close(self) -> None:
        self._proc.terminate()
        self._proc.wait(10)
