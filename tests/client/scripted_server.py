"""A scripted sync-protocol server for client tests: a test double for the wire.

It speaks just enough of docs/protocol.md for one query (``counter:get``) and one mutation
(``counter:increment``), plus a few knobs tests use to misbehave (drop the socket, send a
FatalError or a bad Transition, stay silent). It uses pyconvex's own codec, keeps the
per-socket versions exactly as §5 describes, and records every client message it parsed.

``tests/client/test_client_e2e.py`` runs the same clients against the real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from pyconvex.protocol import encode_server_message, parse_client_message


class _Socket:
    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.version = {"querySet": 0, "identity": 0, "ts": 0}
        self.queries: dict[int, tuple[str, dict[str, Any]]] = {}
        self.query_set = 0  # last ModifyQuerySet newVersion received
        self.identity = 0  # Authenticates accepted


class ScriptedServer:
    def __init__(self) -> None:
        self.count = 0.0
        self.ts = 1000
        self.received: list[dict[str, Any]] = []
        self.sockets: list[_Socket] = []
        self.connects = 0
        # Knobs.
        self.ping_first = False
        self.silent = False
        self.transition_delay = 0.0
        self.drop_next_mutation = False
        self.transition_sent_at: list[float] = []
        self._server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def start(self) -> None:
        self._server = await serve(self._handle, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m["type"] == kind]

    async def drop_all(self) -> None:
        for sock in list(self.sockets):
            await sock.ws.close(1012, "restarting")

    async def send_all(self, message: dict[str, Any]) -> None:
        for sock in list(self.sockets):
            await sock.ws.send(encode_server_message(message))

    # ------------------------------------------------------------------ protocol
    async def _handle(self, ws: ServerConnection) -> None:
        sock = _Socket(ws)
        self.sockets.append(sock)
        try:
            if self.ping_first:
                await ws.send(encode_server_message({"type": "Ping"}))
            async for frame in ws:
                msg = dict(parse_client_message(frame))
                self.received.append(msg)
                if not self.silent:
                    await self._on_message(sock, msg)
        except ConnectionClosed:
            pass
        finally:
            self.sockets.remove(sock)

    def _run(self, path: str, args: dict[str, Any]) -> dict[str, Any]:
        if path == "counter:get":
            return {"value": self.count}
        if path == "counter:fail":
            return {"errorMessage": "query failed", "errorData": {"why": "asked to"}}
        return {"errorMessage": f"Could not find public function for '{path}'."}

    def _modification(self, qid: int, path: str, args: dict[str, Any]) -> dict[str, Any]:
        outcome = self._run(path, args)
        if "value" in outcome:
            return {"type": "QueryUpdated", "queryId": qid, "value": outcome["value"], "logLines": [],
                    "journal": None}
        return {"type": "QueryFailed", "queryId": qid, "logLines": [], "journal": None, **outcome}

    async def _transition(self, sock: _Socket, mods: list[dict[str, Any]]) -> None:
        end = {"querySet": sock.query_set, "identity": sock.identity, "ts": self.ts}
        await sock.ws.send(encode_server_message(
            {"type": "Transition", "startVersion": dict(sock.version), "endVersion": end, "modifications": mods}
        ))
        sock.version = end
        self.transition_sent_at.append(asyncio.get_running_loop().time())

    async def _on_message(self, sock: _Socket, msg: dict[str, Any]) -> None:
        kind = msg["type"]
        if kind == "Connect":
            self.connects += 1
        elif kind == "ModifyQuerySet":
            if msg["baseVersion"] != sock.query_set:
                await sock.ws.send(encode_server_message({"type": "FatalError", "error": "BaseVersionMismatch"}))
                await sock.ws.close(1008)
                return
            mods = []
            for mod in msg["modifications"]:
                if mod["type"] == "Add":
                    sock.queries[mod["queryId"]] = (mod["udfPath"], mod["args"])
                    mods.append(self._modification(mod["queryId"], mod["udfPath"], mod["args"]))
                else:
                    sock.queries.pop(mod["queryId"], None)
                    mods.append({"type": "QueryRemoved", "queryId": mod["queryId"]})
            sock.query_set = msg["newVersion"]
            await self._transition(sock, mods)
        elif kind == "Mutation":
            await self._mutation(sock, msg)
        elif kind == "Action":
            if msg["udfPath"] == "slow:action":
                return  # never answered
            await sock.ws.send(encode_server_message(
                {"type": "ActionResponse", "requestId": msg["requestId"], "success": True,
                 "result": msg["args"], "logLines": ["[LOG] 'echo'"]}))
        elif kind == "Authenticate":
            if msg["tokenType"] == "User" and msg["value"] != "good":
                await sock.ws.send(encode_server_message(
                    {"type": "AuthError", "error": "invalid token", "baseVersion": msg["baseVersion"],
                     "authUpdateAttempted": True}))
                await sock.ws.close()
                return
            sock.identity += 1
            await self._transition(sock, [])

    async def _mutation(self, sock: _Socket, msg: dict[str, Any]) -> None:
        if self.drop_next_mutation:
            self.drop_next_mutation = False
            await sock.ws.close(1011, "lost it")
            return
        rid = msg["requestId"]
        if msg["udfPath"] == "counter:increment":
            self.count += msg["args"].get("by", 1.0)
            self.ts += 10
            await sock.ws.send(encode_server_message(
                {"type": "MutationResponse", "requestId": rid, "success": True, "result": self.count,
                 "ts": self.ts, "logLines": []}))
            if self.transition_delay:
                await asyncio.sleep(self.transition_delay)
            for other in list(self.sockets):  # every socket watching the counter gets the update
                mods = [self._modification(q, p, a) for q, (p, a) in other.queries.items() if p == "counter:get"]
                with contextlib.suppress(ConnectionClosed):
                    await self._transition(other, mods)
            return
        failure: dict[str, Any] = {"type": "MutationResponse", "requestId": rid, "success": False,
                                   "result": "[Request ID: 0123456789abcdef] Server Error", "ts": None,
                                   "logLines": []}
        if msg["udfPath"] == "counter:reject":
            failure["result"] = "too big"
            failure["errorData"] = {"max": 10.0}
        await sock.ws.send(encode_server_message(failure))
        await self._transition(sock, [])


@contextlib.contextmanager
def server_in_thread() -> Iterator[ScriptedServer]:
    """The scripted server on its own event loop thread (for the blocking client)."""
    loop = asyncio.new_event_loop()
    server = ScriptedServer()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(5)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
