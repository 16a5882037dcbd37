"""Plain calls read from the raw bytes (server/http_fast.py), over real sockets to a real
uvicorn server running the deployment's protocol class: requests split anywhere,
pipelined, mixed with requests that switch the connection to uvicorn's parsing
(which must see every byte after the switch point, in order), odd spellings, limits,
malformed input, ``Connection: close``, a client leaving mid-call and a graceful
shutdown with a call in flight.

The calls are answered by :class:`_Calls`, a ``FunctionCalls`` whose ``reply`` records
what it was given and can hold a call open (the protocol is under test here, not the
functions; tests/server/test_direct_calls.py runs the same paths against a real
deployment)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from pyconvex.functions import FunctionKind
from pyconvex.server.direct_calls import direct_calls_protocol
from pyconvex.server.fast_path import JSON_FIELDS, FunctionCalls, call_routes, origin_fields
from pyconvex.server.http_fast import _FIELDS, _MAX_FIELDS, UVICORN_RAW_INTERNALS
from tests.server.inprocess import uvicorn_in_loop


class _Calls(FunctionCalls):
    """Echoes each call's body and headers; a body containing ``hold`` waits for
    ``release``."""

    def __init__(self) -> None:
        super().__init__(_inner, None, call_routes())  # type: ignore[arg-type]
        self.seen: list[tuple[FunctionKind, bytes, list[tuple[bytes, bytes]]]] = []
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.finished = 0

    async def reply(self, kind: FunctionKind, scope: Any, chunks: list[bytes],
                    size: int) -> tuple[int, bytes, bytes | None]:
        body = b"".join(chunks)
        self.seen.append((kind, body, list(scope["headers"])))
        if b"hold" in body:
            self.entered.set()
            await self.release.wait()
        self.finished += 1
        origin = dict(scope["headers"]).get(b"origin")
        return 200, json.dumps({"kind": kind.value, "size": size}).encode(), origin


async def _inner(scope: Any, receive: Any, send: Any) -> None:
    """What is not a call: ``GET /version``."""
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")]})
    await send({"type": "http.response.body", "body": b"1.0.0"})


@asynccontextmanager
async def _serving(**settings: Any) -> AsyncIterator[tuple[_Calls, uvicorn.Server, int]]:
    calls = _Calls()
    async with uvicorn_in_loop(calls, http=direct_calls_protocol(calls), proxy_headers=False,
                               **settings) as (server, port):
        yield calls, server, port


def _call(body: bytes, *, path: str = "/api/mutation", fields: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{fields}\r\n").encode() + body


async def _response(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status, *lines = head.rstrip("\r\n").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return status, headers, await reader.readexactly(int(headers["content-length"]))


async def test_a_request_split_byte_by_byte_is_answered_once_whole():
    async with _serving() as (calls, _, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        request = _call(b'{"path":"a:b","args":{}}', fields="Authorization: Bearer T0k3n\r\n")
        for i in range(len(request)):
            writer.write(request[i:i + 1])
            await writer.drain()
            await asyncio.sleep(0)
        status, headers, body = await _response(reader)
        assert status == "HTTP/1.1 200 OK" and json.loads(body) == {"kind": "mutation", "size": 24}
        assert "connection" not in headers and "date" in headers
        [(_kind, seen_body, seen_headers)] = calls.seen
        assert seen_body == b'{"path":"a:b","args":{}}'
        assert (b"authorization", b"Bearer T0k3n") in seen_headers
        writer.close()


async def test_pipelined_calls_in_one_read_are_answered_in_order():
    async with _serving() as (calls, _, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(_call(b"1") + _call(b"22", path="/api/query") + _call(b"333", path="/api/action"))
        answers = [json.loads((await _response(reader))[2]) for _ in range(3)]
        assert answers == [{"kind": "mutation", "size": 1}, {"kind": "query", "size": 2},
                           {"kind": "action", "size": 3}]
        assert [body for _, body, _ in calls.seen] == [b"1", b"22", b"333"]
        writer.close()


async def test_requests_after_the_switch_point_all_reach_uvicorn_in_order():
    """A GET and a chunked call pipelined behind a plain call: the connection goes to
    uvicorn's parsing at the GET, which gets it and every request after it."""
    chunked = (b"POST /api/mutation HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    async with _serving() as (calls, _, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(_call(b"first") + b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n" + chunked
                     + _call(b"last"))
        assert json.loads((await _response(reader))[2])["size"] == 5
        assert (await _response(reader))[2] == b"1.0.0"
        assert json.loads((await _response(reader))[2])["size"] == 5  # abc + de
        assert json.loads((await _response(reader))[2])["size"] == 4
        assert [body for _, body, _ in calls.seen] == [b"first", b"abcde", b"last"]
        writer.close()
        # A chunked call first in a read switches as well.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(chunked + _call(b"after"))
        assert json.loads((await _response(reader))[2])["size"] == 5
        assert json.loads((await _response(reader))[2])["size"] == 5
        writer.close()


async def test_the_line_cache_stays_bounded_and_keeps_learning():
    """More distinct header lines than the cache holds (callers' tokens, bodies'
    lengths): every call is answered with its own header, the cache never passes its
    bound, and the lines sent last are ones it knows (it starts again when full rather
    than stop learning)."""
    async with _serving() as (calls, _, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in range(_MAX_FIELDS + 50):
            writer.write(_call(b"{}", fields=f"Authorization: Bearer t{i}\r\n"))
            status, _, _ = await _response(reader)
            assert status == "HTTP/1.1 200 OK"
            assert len(_FIELDS) <= _MAX_FIELDS
            assert (b"authorization", b"Bearer t%d" % i) in calls.seen[-1][2]
        assert b"Authorization: Bearer t%d" % (_MAX_FIELDS + 49) in _FIELDS
        writer.close()


async def test_odd_case_and_extra_headers():
    async with _serving() as (calls, _, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /api/query HTTP/1.1\r\nhOsT: x\r\nX-Extra-One:  spaced value \r\n"
                     b"cOnTeNt-LeNgTh: 2\r\noRiGiN: https://app.example\r\n"
                     b"x-extra-two:\r\nCONNECTION: Keep-Alive\r\n\r\n{}")
        status, headers, body = await _response(reader)
        assert status == "HTTP/1.1 200 OK" and json.loads(body)["kind"] == "query"
        assert headers["access-control-allow-origin"] == "https://app.example"
        assert "connection" not in headers
        _, seen_body, seen_headers = calls.seen[0]
        assert seen_body == b"{}"
        assert seen_headers[:4] == [(b"host", b"x"), (b"x-extra-one", b"spaced value"),
                                    (b"content-length", b"2"), (b"origin", b"https://app.example")]
        assert seen_headers[4] == (b"x-extra-two", b"")
        writer.write(_call(b"again"))  # still open
        assert json.loads((await _response(reader))[2])["size"] == 5
        writer.close()


async def test_the_raw_head_has_the_fields_answer_lists_in_its_order():
    """The raw path writes ``JSON_FIELDS`` and ``origin_fields``; ASGI and uvicorn's
    cycles send ``FunctionCalls.answer``'s list: the same lines in the same order, with
    an ``Origin`` and without."""
    calls = _Calls()
    for headers in ([], [(b"origin", b"https://app.example")]):
        _, fields, content = await calls.answer(FunctionKind.QUERY, {"headers": headers}, [b"{}"], 2)
        raw = JSON_FIELDS % len(content)
        if headers:
            raw += origin_fields(headers[0][1])
        assert raw == b"".join(name + b": " + value + b"\r\n" for name, value in fields)
        assert (b"access-control-allow-origin: https://app.example\r\n" in raw) == bool(headers)


async def test_a_body_over_64_kib_is_read_by_uvicorn():
    async with _serving() as (_calls, _, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(_call(b"small") + _call(b"y" * 70_000) + _call(b"tail"))
        sizes = [json.loads((await _response(reader))[2])["size"] for _ in range(3)]
        assert sizes == [5, 70_000, 4]
        writer.close()


async def test_malformed_requests_get_uvicorns_400():
    for request in (
        b"POST /api/mutation HTTP/1.1 junk\r\nContent-Length: 2\r\n\r\n{}",
        b"POST /api/mutation HTTP/1.1\r\nContent-Length: 1x\r\n\r\n{}",
        b"POST /api/mutation HTTP/1.1\r\nContent Length: 2\r\nContent-Length: 2\r\n\r\n{}",
        b"POST /api/mutation HTTP/1.1\r\nContent-Length: 2\r\nX-Bad: a\x01b\r\n\r\n{}",
    ):
        async with _serving() as (calls, _, port):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(_call(b"ok") + request)
            assert json.loads((await _response(reader))[2])["size"] == 2
            status, headers, body = await _response(reader)
            assert status == "HTTP/1.1 400 Bad Request", (request, status, body)
            assert body == b"Invalid HTTP request received." and headers["connection"] == "close"
            assert await reader.read() == b""
            assert len(calls.seen) == 1, request
            writer.close()


async def test_connection_close_is_honoured():
    async with _serving() as (calls, _, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(_call(b"bye", fields="Connection: Close\r\n") + _call(b"never"))
        status, headers, _ = await _response(reader)
        assert status == "HTTP/1.1 200 OK" and headers["connection"] == "close"
        assert await reader.read() == b""
        assert [body for _, body, _ in calls.seen] == [b"bye"]
        writer.close()


async def _until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.005)


async def test_a_client_gone_mid_call_is_not_written_to_and_not_counted():
    async with _serving() as (calls, server, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(_call(b"hold"))
        await calls.entered.wait()
        assert len(server.server_state.connections) == 1 and len(server.server_state.tasks) == 1
        writer.close()
        await _until(lambda: not server.server_state.connections)
        calls.release.set()
        await _until(lambda: not server.server_state.tasks)
        assert calls.finished == 1  # the call itself ran to its end
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(_call(b"next"))
        assert json.loads((await _response(reader))[2])["size"] == 4
        writer.close()


async def test_shutdown_finishes_the_call_in_flight_and_closes_idle_connections():
    async with _serving() as (calls, server, port):
        busy_reader, busy_writer = await asyncio.open_connection("127.0.0.1", port)
        idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", port)
        idle_writer.write(_call(b"idle"))
        await _response(idle_reader)
        busy_writer.write(_call(b"hold"))
        await calls.entered.wait()
        server.should_exit = True
        assert await idle_reader.read() == b""  # closed at once
        calls.release.set()
        status, headers, body = await _response(busy_reader)
        assert status == "HTTP/1.1 200 OK" and headers["connection"] == "close"
        assert json.loads(body)["size"] == 4
        assert await busy_reader.read() == b""
        busy_writer.close()
        idle_writer.close()


async def test_uvicorns_protocol_still_has_what_the_raw_path_uses():
    config = uvicorn.Config(_inner)
    config.load()
    protocol = HttpToolsProtocol(config, ServerState(), {}, asyncio.get_running_loop())
    missing = [n for n in UVICORN_RAW_INTERNALS if not hasattr(protocol, n)]
    assert not missing, f"uvicorn's HttpToolsProtocol no longer has {missing}: see server/http_fast.py"
