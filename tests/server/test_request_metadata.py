"""``ctx.meta.get_request_metadata()`` over the wire: the client's address, User-Agent and
token reach mutations, actions (in their worker processes) and the functions they call,
and HTTP actions; ``X-Forwarded-For`` counts only from a proxy named with
``--trusted-proxy``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from convex import ConvexClient

from pyconvex.auth import generate_keys
from pyconvex.errors import BadRequestError
from pyconvex.server.client_address import client_ip, parse_trusted_proxies
from pyconvex.testing import ConvexTest

from ..conftest import FIXTURES, start_server, stop_server

APP = FIXTURES / "passwordapp" / "convex"
KEYS = generate_keys()


def _serve(tmp_path: Path, *extra: str) -> tuple[Any, str]:
    return start_server(tmp_path / "db.sqlite3", APP, extra=list(extra),
                        env={**KEYS, "SITE_URL": "http://127.0.0.1:5173"})


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    proc, url = _serve(tmp_path)
    try:
        yield url
    finally:
        stop_server(proc)


def _call(url: str, path: str, *, source: str = "127.0.0.1", kind: str = "mutation",
          headers: dict[str, str] | None = None) -> Any:
    """A call over HTTP from the loopback address ``source`` (all of 127/8 is this host)."""
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source)) as client:
        reply = client.post(f"{url}/api/{kind}", json={"path": path, "args": {}, "format": "json"},
                            headers=headers or {})
    body = reply.json()
    assert body["status"] == "success", body
    return body["value"]


def test_the_callers_address_user_agent_and_token_reach_functions(served: str) -> None:
    meta = _call(served, "notes:origin", source="127.0.0.2", headers={"User-Agent": "probe/1"})
    assert meta["ip"] == "127.0.0.2" and meta["userAgent"] == "probe/1"
    assert meta["authToken"] is None and meta["scheduledFunctionId"] is None and meta["requestId"]

    # An action runs in a worker process; the mutation it calls runs back on the server.
    both = _call(served, "notes:origin_in_action", source="127.0.0.3", kind="action")
    assert both["action"]["ip"] == both["mutation"]["ip"] == "127.0.0.3"
    assert both["action"]["requestId"] == both["mutation"]["requestId"]

    # Over the WebSocket (the official client), with a user token.
    client = ConvexClient(served)
    tokens = client.action("auth:signIn", {"provider": "anonymous", "params": {}})["tokens"]
    client.set_auth(tokens["token"])
    over_ws = client.mutation("notes:origin")
    assert over_ws["ip"] == "127.0.0.1" and over_ws["authToken"] == tokens["token"]
    assert client.action("notes:origin_in_action")["mutation"]["authToken"] == tokens["token"]

    # HTTP actions too, on the /http/ prefix of the deployment port.
    # (60 s: an action worker's cold start takes more than httpx's default 5 s under load)
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.4"), timeout=60) as web:
        assert web.get(f"{served}/http/origin").json()["ip"] == "127.0.0.4"


def test_calls_on_one_keep_alive_connection_each_see_their_own_origin(served: str) -> None:
    """A connection's worker leaves its last call's origin set between calls instead of
    resetting it (``call_function``'s ``keep_origin``): each call still sees its own
    User-Agent and token, a token not carried over to the calls after it."""
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.6"), timeout=60) as client:

        def call(path: str, kind: str = "mutation", args: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> Any:
            reply = client.post(f"{served}/api/{kind}", headers=headers or {},
                                json={"path": path, "args": args or {}, "format": "json"})
            body = reply.json()
            assert body["status"] == "success", body
            return body["value"]

        token = call("auth:signIn", "action", {"provider": "anonymous", "params": {}})["tokens"]["token"]
        sent = [{"User-Agent": "a/1"}, {"User-Agent": "b/2"},
                {"User-Agent": "b/2", "Authorization": f"Bearer {token}"}, {"User-Agent": "b/2"},
                {"User-Agent": "a/1"}]
        seen = [call("notes:origin", headers=headers) for headers in sent]
    assert [m["userAgent"] for m in seen] == ["a/1", "b/2", "b/2", "b/2", "a/1"]
    assert [m["authToken"] for m in seen] == [None, None, token, None, None]
    assert {m["ip"] for m in seen} == {"127.0.0.6"}
    assert len({m["requestId"] for m in seen}) == len(seen)


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(tmp_path: Path) -> None:
    spoof = {"X-Forwarded-For": "203.0.113.7"}
    proc, url = _serve(tmp_path)
    try:  # no trusted proxy: anyone can write the header, so it is not believed
        assert _call(url, "notes:origin", source="127.0.0.5", headers=spoof)["ip"] == "127.0.0.5"
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.1")) as web:
            seen = web.get(f"{url}/http/origin", headers={**spoof, "X-Forwarded-Proto": "https"}).json()
        assert (seen["ip"], seen["requestClient"], seen["scheme"]) == ("127.0.0.1", "127.0.0.1", "http")
    finally:
        stop_server(proc)
    proc, url = _serve(tmp_path, "--trusted-proxy", "127.0.0.5", "--trusted-proxy", "10.0.0.0/8")
    try:
        assert _call(url, "notes:origin", source="127.0.0.5", headers=spoof)["ip"] == "203.0.113.7"
        # A chain: the client wrote the leftmost entry itself; 10.1.2.3 is a trusted proxy.
        chain = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9, 10.1.2.3"}
        assert _call(url, "notes:origin", source="127.0.0.5", headers=chain)["ip"] == "203.0.113.9"
        # From a peer that is not a trusted proxy the header is still ignored.
        assert _call(url, "notes:origin", source="127.0.0.6", headers=spoof)["ip"] == "127.0.0.6"
        # HTTP actions' own request agrees, scheme included (X-Forwarded-Proto).
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.5")) as web:
            seen = web.get(f"{url}/http/origin", headers={**spoof, "X-Forwarded-Proto": "https"}).json()
        assert (seen["ip"], seen["requestClient"], seen["scheme"]) == ("203.0.113.7", "203.0.113.7", "https")
    finally:
        stop_server(proc)


def test_client_ip_reads_the_header_from_the_right() -> None:
    trusted = parse_trusted_proxies(["127.0.0.1", "::1", "10.0.0.0/8"])

    def scope(peer: str, forwarded: str | None = None) -> dict[str, Any]:
        headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
        return {"client": (peer, 5000), "headers": headers}

    assert client_ip(scope("::ffff:192.0.2.1"), ()) == "192.0.2.1"
    assert client_ip(scope("127.0.0.1", "192.0.2.1"), ()) == "127.0.0.1"
    assert client_ip(scope("127.0.0.1", "192.0.2.1"), trusted) == "192.0.2.1"
    assert client_ip(scope("::1", "[2001:db8::1]:443, 10.0.0.2"), trusted) == "2001:db8::1"
    assert client_ip(scope("127.0.0.1", "10.0.0.2, 10.0.0.3"), trusted) == "10.0.0.2"
    assert client_ip(scope("127.0.0.1", "not-an-address, 10.0.0.3"), trusted) == "10.0.0.3"
    assert client_ip(scope("127.0.0.1", "192.0.2.1:8080"), trusted) == "192.0.2.1"
    assert client_ip({"headers": []}, trusted) is None
    with pytest.raises(BadRequestError, match=r"'10\.0\.0\.0/33' is not an IP address or network"):
        parse_trusted_proxies(["10.0.0.0/33"])


async def test_a_scheduled_run_names_its_job_and_no_client(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**KEYS, "SITE_URL": "http://127.0.0.1:5173"}.items():
        monkeypatch.setenv(name, value)
    async with ConvexTest(APP) as t:
        client = t.with_request(ip="192.0.2.10", user_agent="scheduler-test")
        job = await client.mutation("notes:schedule_origin")
        assert (await client.mutation("notes:origin"))["ip"] == "192.0.2.10"
        await t.finish_scheduled()
        [row] = await t.run(lambda ctx: ctx.db.query("origins").collect())
        assert row["meta"]["scheduledFunctionId"] == job
        assert row["meta"]["ip"] is None and row["meta"]["userAgent"] is None
