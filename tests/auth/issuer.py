"""A real, local OIDC-style issuer for tests: discovery + JWKS over HTTP, signing keys."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey


class Issuer:
    def __init__(self) -> None:
        self.keys: list[Any] = [RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})]
        self.ec_key = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})
        self.requests: list[str] = []
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.requests.append(self.path)
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks"}
                elif self.path == "/jwks":
                    body = {"keys": [k.as_dict(private=False) for k in issuer.keys]}
                elif self.path == "/ec-jwks":
                    body = {"keys": [issuer.ec_key.as_dict(private=False)]}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def rotate(self) -> None:
        self.keys = [RSAKey.generate_key(2048, parameters={"kid": f"rsa-{len(self.requests)}-new"})]

    def token(self, *, key: Any = None, alg: str = "RS256", **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": self.url, "sub": "user-1", "aud": "my-app", "iat": now, "exp": now + 600,
                   "name": "Ann", "email": "ann@example.com", "email_verified": True, **claims}
        payload = {k: v for k, v in payload.items() if v is not None}
        key = key or self.keys[0]
        return jwt.encode({"alg": alg, "kid": key.kid}, payload, key)


class IssuerProcess(Issuer):
    """The same issuer, but its documents are served by another process.

    Needed when the test process blocks inside the official Python client, which holds
    the GIL while it waits (a server thread in this process could not answer).
    """

    def __init__(self, root: Any) -> None:
        import socket
        import subprocess
        import sys
        from pathlib import Path

        super().__init__()
        self.close()  # the in-process server is not used
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        root = Path(root)
        (root / ".well-known").mkdir(parents=True, exist_ok=True)
        (root / ".well-known" / "openid-configuration").write_text(
            json.dumps({"issuer": self.url, "jwks_uri": f"{self.url}/jwks"})
        )
        (root / "jwks").write_text(json.dumps({"keys": [k.as_dict(private=False) for k in self.keys]}))
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        import httpx

        for _ in range(200):
            try:
                httpx.get(f"{self.url}/jwks", timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.02)

    def close(self) -> None:
        proc = getattr(self, "_proc", None)
        if proc is None:
            super().close()
            return
        proc.terminate()
        proc.wait(10)
