"""HTTP actions over real HTTP: the site port and /http/ on the deployment port."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.auth.issuer import IssuerProcess
from tests.conftest import FIXTURES
from tests.server.inprocess import live_server

APP = Path(__file__).resolve().parents[1] / "fixtures" / "httpapp" / "convex"


@pytest.fixture
def urls(tmp_path: Path) -> Iterator[tuple[str, str]]:
    with live_server(tmp_path / "db.sqlite3", APP, site=True, actions=True) as served:
        assert served.site_url is not None
        yield served.url, served.site_url


def test_json_webhook_on_both_ports(urls: tuple[str, str]) -> None:
    url, site = urls
    first = httpx.post(f"{site}/webhook", json={"event": "push", "n": 1.5})
    assert first.status_code == 201 and first.json()["stored"]
    second = httpx.post(f"{url}/http/webhook", json={"event": "push", "n": 2.5})
    assert second.status_code == 201
    events = httpx.post(f"{url}/api/query", json={"path": "hooks:events", "args": {}}).json()["value"]
    assert events == [{"event": "push", "n": 1.5}, {"event": "push", "n": 2.5}]
    logs = httpx.get(f"{url}/api/pyconvex/logs", params={"after": 0},
                     headers={"Authorization": "Convex test-admin-key"}).json()["entries"]
    assert any(e["path"] == "http:POST /webhook" and e["logLines"][0].startswith("[LOG] 'stored'")
               for e in logs)


def test_path_prefix_longest_wins_404_and_405(urls: tuple[str, str]) -> None:
    _, site = urls
    assert httpx.get(f"{site}/files/a/b.txt").text == "file a/b.txt"
    assert httpx.get(f"{site}/files/special/x").text == "nested wins"
    missing = httpx.get(f"{site}/nothing-here")
    assert missing.status_code == 404 and missing.json()["code"] == "NoRouteFound"
    wrong = httpx.get(f"{site}/webhook")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"


def test_cors_preflight_and_headers(urls: tuple[str, str]) -> None:
    _, site = urls
    pre = httpx.options(f"{site}/echo", headers={"Origin": "https://app.example",
                                                  "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "https://app.example"
    assert pre.headers["access-control-allow-methods"] == "POST"
    echoed = httpx.post(f"{site}/echo", content=b"\x00bytes", headers={"Origin": "https://app.example"})
    assert echoed.content == b"\x00bytes"
    assert echoed.headers["access-control-allow-origin"] == "https://app.example"
    other = httpx.post(f"{site}/echo", content=b"x", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_errors_are_500_with_a_request_id_never_a_traceback(urls: tuple[str, str]) -> None:
    _, site = urls
    for path in ("/broken", "/not-a-response"):
        response = httpx.get(f"{site}{path}")
        assert response.status_code == 500
        body = response.json()
        assert body["code"] == "ServerError" and "Request ID:" in body["message"]
        assert "secret internals" not in response.text and "Traceback" not in response.text
        assert response.headers["x-request-id"] in body["message"]


def test_a_jwt_that_fails_verification_is_refused(urls: tuple[str, str]) -> None:
    _, site = urls
    assert httpx.get(f"{site}/whoami").json() == {"identity": None}
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2lnbmF0dXJl"  # three base64url segments
    refused = httpx.get(f"{site}/whoami", headers={"Authorization": f"Bearer {jwt}"})
    assert refused.status_code == 401 and refused.json()["code"] == "NoAuthProvider"


@pytest.mark.parametrize("header", [
    "Bearer sk_live_51HxYzAbCdEf",   # an API key, as Stripe-style webhooks and clients send
    "Bearer helloworld",
    "bearer a.b",                    # two segments: not a JWT
    "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
    "Token abc.def.ghi",             # another scheme, even with a JWT-like value
])
def test_an_authorization_header_that_is_not_a_jwt_reaches_the_handler(
    urls: tuple[str, str], header: str
) -> None:
    url, site = urls
    for base in (site, f"{url}/http"):
        response = httpx.get(f"{base}/auth-header", headers={"Authorization": header})
        assert response.status_code == 200, response.text
        assert response.json() == {"authorization": header, "identity": None}


def test_a_verified_jwt_gives_the_http_action_its_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    issuer = IssuerProcess(tmp_path / "issuer")
    monkeypatch.setenv("TEST_OIDC_ISSUER", issuer.url)
    try:
        with live_server(tmp_path / "db.sqlite3", FIXTURES / "authapp" / "convex",
                         actions=True) as served:
            url = served.url
            token = issuer.token()
            ok = httpx.get(f"{url}/http/whoami", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200 and ok.json()["subject"] == "user-1"
            expired = issuer.token(exp=int(time.time()) - 100)
            refused = httpx.get(f"{url}/http/whoami", headers={"Authorization": f"Bearer {expired}"})
            assert refused.status_code == 401 and "expired" in refused.json()["message"]
            api_key = httpx.get(f"{url}/http/whoami", headers={"Authorization": "Bearer sk_live_x"})
            assert api_key.json() == {"subject": None, "authorization": "Bearer sk_live_x"}
    finally:
        issuer.close()


def test_functions_see_the_deployment_and_site_urls(urls: tuple[str, str]) -> None:
    url, site = urls
    admin = {"Authorization": "Convex test-admin-key"}

    def seen() -> dict[str, str]:
        body = httpx.post(f"{url}/api/query", json={"path": "hooks:deployment_urls", "args": {}}).json()
        return body["value"]  # type: ignore[no-any-return]

    assert seen() == {"cloud": url, "site": site}
    assert httpx.get(f"{site}/urls").json() == {"cloud": url, "site": site}  # actions (workers) too
    # a variable set by the developer wins (a public URL behind a proxy), as in Convex ...
    changes = {"changes": {"CONVEX_SITE_URL": "https://api.example.com"}}
    assert httpx.post(f"{url}/api/pyconvex/env", json=changes, headers=admin).status_code == 200
    assert seen() == {"cloud": url, "site": "https://api.example.com"}
    # ... and removing it brings the deployment's own value back
    changes = {"changes": {"CONVEX_SITE_URL": None}}
    assert httpx.post(f"{url}/api/pyconvex/env", json=changes, headers=admin).status_code == 200
    assert seen() == {"cloud": url, "site": site}
    # the listed variables are the developer's only
    listed = httpx.get(f"{url}/api/pyconvex/env", headers=admin).json()["variables"]
    assert "CONVEX_CLOUD_URL" not in listed and "CONVEX_SITE_URL" not in listed
