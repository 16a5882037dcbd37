"""Client calls answered by the HTTP protocol itself (server/direct_calls.py): what a
client sees is what the ASGI path gave it, over a raw socket, including the HTTP/1.1
cases the ASGI machinery used to handle (keep-alive, pipelining, ``Connection: close``,
a client leaving mid-request, bodies that go the ASGI way)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pyconvex.server.direct_calls import DirectCallsProtocol
from pyconvex.server.runner import open_servers, run_on_server_loop
from tests.conftest import APP
from tests.server.inprocess import LiveServer, live_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path / "db.sqlite3") as s:
        yield s


def _request(body: dict[str, object], *, path: str = "/api/mutation", extra: str = "") -> bytes:
    raw = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(raw)}\r\n{extra}\r\n").encode() + raw


def _read_response(sock: socket.socket, buffer: bytearray) -> tuple[str, dict[str, str], bytes]:
    """One response off ``sock`` (what is left over stays in ``buffer``)."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection mid-response: {bytes(buffer)!r}"
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    length = int(headers["content-length"])
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-body"
        rest += chunk
    buffer[:] = rest[length:]
    return status, headers, rest[:length]


def _channel(url: str, name: str) -> str:
    r = httpx.post(f"{url}/api/mutation", json={"path": "channels:create", "args": {"name": name}})
    value: str = r.json()["value"]
    return value


def _messages(url: str, channel: str) -> list[str]:
    r = httpx.post(f"{url}/api/query",
                   json={"path": "messages:list", "args": {"channelId": channel}})
    return [m["text"] for m in reversed(r.json()["value"])]  # newest first -> oldest first


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def test_pipelined_calls_on_one_connection_are_answered_in_order(server: LiveServer) -> None:
    channel = _channel(server.url, "pipelined")
    with _connect(server.url) as sock:
        # Three requests in one write: the second and third arrive while the first runs.
        sock.sendall(b"".join(
            _request({"path": "messages:send", "args": {"channelId": channel, "text": t}})
            for t in ("one", "two", "three")))
        buffer = bytearray()
        ids = []
        for _ in range(3):
            status, headers, body = _read_response(sock, buffer)
            assert status == "HTTP/1.1 200 OK", body
            assert headers["content-type"] == "application/json"
            reply = json.loads(body)
            assert reply["status"] == "success", reply
            ids.append(reply["value"])
        assert len(set(ids)) == 3
        # Still open: a fourth call on the same connection.
        sock.sendall(_request({"path": "messages:list", "args": {"channelId": channel}},
                              path="/api/query"))
        _, _, body = _read_response(sock, buffer)
        assert [m["text"] for m in json.loads(body)["value"]] == ["three", "two", "one"]


def test_every_spelling_of_a_call_target_is_answered_alike(server: LiveServer) -> None:
    # The exact target is recognised without parsing the URL; a query string, a doubled
    # slash and HTTP/1.0 take uvicorn's parsing first. Each runs the call once, and the
    # answers differ only in what the protocol version asks for.
    channel = _channel(server.url, "spellings")
    targets = ("/api/mutation", "/api/mutation?format=json", "//api/mutation")
    with _connect(server.url) as sock:
        buffer = bytearray()
        for target in targets:
            sock.sendall(_request(
                {"path": "messages:send", "args": {"channelId": channel, "text": target}},
                path=target))
            status, headers, body = _read_response(sock, buffer)
            assert status == "HTTP/1.1 200 OK", body
            assert json.loads(body)["status"] == "success"
            assert "connection" not in headers and "date" in headers
    with _connect(server.url) as sock:
        sock.sendall(_request(
            {"path": "messages:send", "args": {"channelId": channel, "text": "1.0"}}
        ).replace(b"HTTP/1.1", b"HTTP/1.0", 1))
        status, headers, body = _read_response(sock, bytearray())
        assert status == "HTTP/1.1 200 OK" and json.loads(body)["status"] == "success"
        assert headers["connection"] == "close"
    assert _messages(server.url, channel) == [*targets, "1.0"]


def test_connection_close_is_honoured_after_the_answer(server: LiveServer) -> None:
    channel = _channel(server.url, "closing")
    with _connect(server.url) as sock:
        sock.sendall(_request({"path": "messages:send", "args": {"channelId": channel, "text": "x"}},
                              extra="Connection: close\r\n"))
        buffer = bytearray()
        status, headers, body = _read_response(sock, buffer)
        assert status == "HTTP/1.1 200 OK" and json.loads(body)["status"] == "success"
        assert headers["connection"] == "close"
        assert sock.recv(1) == b""  # and the server closed its end
    assert _messages(server.url, channel) == ["x"]


def test_a_client_leaving_mid_body_runs_nothing(server: LiveServer) -> None:
    channel = _channel(server.url, "left")
    request = _request({"path": "messages:send", "args": {"channelId": channel, "text": "lost"}})
    with _connect(server.url) as sock:
        sock.sendall(request[:-5])  # the head and all but the end of the body
    # The next call on another connection is answered, and the half-sent one never ran.
    assert _messages(server.url, channel) == []
    httpx.post(f"{server.url}/api/mutation",
               json={"path": "messages:send", "args": {"channelId": channel, "text": "kept"}})
    assert _messages(server.url, channel) == ["kept"]


def test_a_body_arriving_in_pieces_is_waited_for(server: LiveServer) -> None:
    """The call starts once the head is in; it waits for the rest of the body (each
    piece wakes it) and runs on the whole of it."""
    channel = _channel(server.url, "pieces")
    request = _request({"path": "messages:send", "args": {"channelId": channel, "text": "whole"}})
    head_end = request.index(b"\r\n\r\n") + 4
    with _connect(server.url) as sock:
        sock.sendall(request[:head_end])
        for start in range(head_end, len(request), 7):
            time.sleep(0.02)
            sock.sendall(request[start:start + 7])
        buffer = bytearray()
        status, _, body = _read_response(sock, buffer)
        assert status == "HTTP/1.1 200 OK" and json.loads(body)["status"] == "success"
    assert _messages(server.url, channel) == ["whole"]


def test_cors_headers_and_errors_match_the_asgi_path(server: LiveServer) -> None:
    with _connect(server.url) as sock:
        sock.sendall(_request({"path": "messages:nope", "args": {}},
                              extra="Origin: https://app.example\r\n"))
        buffer = bytearray()
        status, headers, body = _read_response(sock, buffer)
        assert headers["access-control-allow-origin"] == "https://app.example"
        assert headers["access-control-allow-credentials"] == "true"
        # An unknown function is a function error (200, as Convex answers), named; the
        # connection lives on.
        assert status == "HTTP/1.1 200 OK", (status, body)
        reply = json.loads(body)
        assert reply["status"] == "error" and "messages:nope" in reply["errorMessage"]
        sock.sendall(b"POST /api/mutation HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\nnot json")
        status, _, body = _read_response(sock, buffer)
        assert status.startswith("HTTP/1.1 400") and json.loads(body)["code"] == "BadJsonBody"


def test_chunked_and_large_bodies_are_answered_the_asgi_way(server: LiveServer) -> None:
    channel = _channel(server.url, "big")
    text = "y" * 200_000  # past the direct path's 64 KiB
    r = httpx.post(f"{server.url}/api/mutation",
                   json={"path": "messages:send", "args": {"channelId": channel, "text": text}})
    assert r.json()["status"] == "success", r.text
    raw = json.dumps({"path": "messages:send",
                      "args": {"channelId": channel, "text": "chunked"}}).encode()
    with _connect(server.url) as sock:
        sock.sendall(b"POST /api/mutation HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Type: application/json\r\n\r\n"
                     + b"%x\r\n%s\r\n0\r\n\r\n" % (len(raw), raw))
        status, _, body = _read_response(sock, bytearray())
        assert status == "HTTP/1.1 200 OK" and json.loads(body)["status"] == "success", body
    assert [len(t) for t in _messages(server.url, channel)] == [200_000, 7]


def test_the_deployment_server_answers_calls_directly(tmp_path: Path) -> None:
    async def protocol_class() -> type:
        server, _ = await open_servers(APP, f"sqlite:///{tmp_path / 'db.sqlite3'}",
                                       host="127.0.0.1", port=0, admin_key="k")
        try:
            http: type = server.config.http  # type: ignore[assignment]
            return http
        finally:
            await server.config.app.state.server.deployment.close()

    assert issubclass(run_on_server_loop(protocol_class()), DirectCallsProtocol)
