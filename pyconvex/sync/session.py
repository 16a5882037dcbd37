"""One client connection of the sync protocol: its query set, identity and requests.

The session is I/O-free: it is fed parsed client messages (``handle``) and emits server
messages through an injected async ``send``; ``server/ws.py`` is the thin shell that
owns the socket. Rules it keeps (protocol.md §4–§7):

- Every Transition starts exactly at the previous one's end version, and all of its
  results were computed at its end timestamp (the manager's ``current_ts``).
- Mutations from one connection run one at a time in arrival order; after each
  MutationResponse comes a Transition at or past the commit timestamp that already
  holds the re-run results, so the client reads its own writes.
- A replayed mutation (same session id and request id, after a reconnect, maybe to
  another process) is answered from the durable record of its first run, never run
  twice (``sync/requests.py``).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from pyconvex.errors import AuthError
from pyconvex.functions import FunctionRunner
from pyconvex.protocol import ProtocolError, parse_client_message
from pyconvex.sync.errors import format_function_error
from pyconvex.sync.requests import run_session_mutation
from pyconvex.sync.subscriptions import Subscription, SubscriptionManager

# ``send(message, more)``: ``more`` says another message follows at once (the shell may
# then send both in one write).
Send = Callable[[dict[str, Any], bool], Awaitable[None]]
VerifyToken = Callable[[str], Awaitable[dict[str, Any]]]

MAX_TAKEN_MUTATIONS = 16  # queued mutations a session takes past its receive loop


class _QueuedMutation(NamedTuple):
    msg: dict[str, Any]
    identity: dict[str, Any] | None
    is_admin: bool


@dataclass
class _Query:
    path: str
    args: dict[str, Any]
    sub: Subscription
    sent_version: int = -1
    journal: str | None = None


def ws_request_id(session_id: str, request_id: int) -> str:
    return hashlib.sha256(f"{session_id}|{request_id}".encode()).hexdigest()[:16]


class SyncSession:
    def __init__(
        self,
        manager: SubscriptionManager,
        runner: FunctionRunner,
        send: Send,
        *,
        admin_key: str | None = None,
        verify_token: VerifyToken | None = None,
    ) -> None:
        self.manager = manager
        self.runner = runner
        self._send = send
        self._admin_key = admin_key
        self._verify_token = verify_token
        self.session_id = ""
        self.connected = False
        self.query_set_version = 0
        self.identity_version = 0
        self.identity: dict[str, Any] | None = None
        self.is_admin = False
        self.current = {"querySet": 0, "identity": 0, "ts": 0}
        self.queries: dict[int, _Query] = {}
        self._removed: list[int] = []
        self._lock = asyncio.Lock()
        # Each with the identity in force when it arrived (an Authenticate after it does
        # not change who runs it).
        self._mutations: asyncio.Queue[_QueuedMutation] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._clock_skew: int | None = None
        self._dirty = asyncio.Event()
        self._closed = False
        self.last_send = time.monotonic()
        self.receiving = False  # the shell is waiting for a frame, with nothing in hand
        self._unlisten = manager.add_listener(self._on_advance)

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        self._spawn(self._mutation_worker())
        self._spawn(self._pusher())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        self._closed = True
        self._unlisten()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            try:
                await task
            except BaseException:
                pass
        for query in self.queries.values():
            self.manager.unsubscribe(query.sub)
        self.queries.clear()

    async def send(self, message: dict[str, Any], *, more: bool = False) -> None:
        self.last_send = time.monotonic()
        await self._send(message, more)

    # ----------------------------------------------------------------- messages
    def take_text(self, text: str) -> bool:
        """A Mutation message, taken as it is parsed (not through the receive loop) when
        that changes nothing: the receive loop is waiting with nothing in hand (so every
        earlier message, an Authenticate included, is fully handled) and few mutations
        are queued (beyond that, the receive path's flow control applies). Anything else
        is declined and goes the usual way."""
        if (
            not self.receiving
            or not self.connected
            or self._closed
            or self._mutations.qsize() >= MAX_TAKEN_MUTATIONS
            or '"Mutation"' not in text
        ):
            return False
        try:
            msg = dict(parse_client_message(text))
        except ProtocolError:
            return False  # the receive loop reports it
        if msg["type"] != "Mutation":
            return False
        self._mutations.put_nowait(_QueuedMutation(msg, self.identity, self.is_admin))
        return True

    async def handle(self, msg: dict[str, Any]) -> None:
        kind = msg["type"]
        if kind == "Connect":
            self.session_id = msg["sessionId"]
            self.connected = True
            client_ts = msg.get("clientTs")
            if client_ts:
                self._clock_skew = int(client_ts - time.time() * 1000)
            return
        if not self.connected:
            raise ProtocolError(f"{kind} before Connect")
        if kind == "ModifyQuerySet":
            await self._modify_query_set(msg)
        elif kind == "Mutation":
            self._mutations.put_nowait(_QueuedMutation(msg, self.identity, self.is_admin))
        elif kind == "Action":
            self._spawn(self._action(msg))
        elif kind == "Authenticate":
            await self._authenticate(msg)
        # Event: telemetry, ignored.

    async def _modify_query_set(self, msg: dict[str, Any]) -> None:
        if msg["baseVersion"] != self.query_set_version:
            raise ProtocolError(
                f"BaseVersionMismatch: ModifyQuerySet baseVersion {msg['baseVersion']} but "
                f"the server is at {self.query_set_version}"
            )
        if msg["newVersion"] != msg["baseVersion"] + 1:
            raise ProtocolError("ModifyQuerySet newVersion must be baseVersion + 1")
        added: list[tuple[int, dict[str, Any]]] = []
        seen: set[int] = set()
        for mod in msg["modifications"]:
            qid = mod["queryId"]
            if mod["type"] == "Add":
                if qid in self.queries or qid in seen:
                    raise ProtocolError(f"query {qid} is already in the query set")
                seen.add(qid)
                added.append((qid, mod))
            else:
                if qid not in self.queries and qid not in seen:
                    raise ProtocolError(f"query {qid} is not in the query set")
                if qid in seen:
                    added = [(q, m) for q, m in added if q != qid]
                    seen.discard(qid)
                else:
                    self.manager.unsubscribe(self.queries.pop(qid).sub)
                self._removed.append(qid)
        subs = await asyncio.gather(
            *(self._subscribe(mod["udfPath"], mod["args"], mod.get("journal")) for _, mod in added)
        )
        for (qid, mod), sub in zip(added, subs, strict=True):
            self.queries[qid] = _Query(mod["udfPath"], mod["args"], sub, journal=mod.get("journal"))
        self.query_set_version = msg["newVersion"]
        await self.send_transition(force=True)

    async def _subscribe(
        self, path: str, args: dict[str, Any], journal: str | None = None
    ) -> Subscription:
        return await self.manager.subscribe(path, args, self.identity, journal)

    async def _authenticate(self, msg: dict[str, Any]) -> None:
        if msg["baseVersion"] != self.identity_version:
            raise ProtocolError(
                f"Authenticate baseVersion {msg['baseVersion']} but the server is at "
                f"{self.identity_version}"
            )
        token_type = msg["tokenType"]
        try:
            if token_type == "None":
                identity, admin = None, False
            elif token_type == "Admin":
                if self._admin_key is None or msg.get("value") != self._admin_key:
                    raise AuthError("The admin key is not valid for this deployment.")
                identity, admin = msg.get("impersonating"), True
            else:
                if self._verify_token is None:
                    raise AuthError(
                        "No auth provider found matching the given token: this deployment "
                        "has no convex/auth_config.py providers."
                    )
                identity, admin = await self._verify_token(str(msg.get("value"))), False
        except AuthError as e:
            await self.send(
                {
                    "type": "AuthError",
                    "error": e.message,
                    "baseVersion": msg["baseVersion"],
                    "authUpdateAttempted": True,
                }
            )
            raise _CloseAfterAuthError(e.message) from None
        self.identity, self.is_admin = identity, admin
        self.identity_version += 1
        # Queries run per identity: move every query to the new identity's subscription.
        old = list(self.queries.items())
        subs = await asyncio.gather(
            *(self._subscribe(q.path, q.args, q.sub.journal) for _, q in old)  # pages stay put
        )
        for (_, query), sub in zip(old, subs, strict=True):
            self.manager.unsubscribe(query.sub)
            query.sub = sub
            query.sent_version = -1
        await self.send_transition(force=True)

    # -------------------------------------------------------------- transitions
    def _on_advance(self, ts: int, changed: set[Subscription]) -> None:
        if any(q.sub in changed for q in self.queries.values()):
            self._dirty.set()

    async def _pusher(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await self.send_transition()

    async def send_transition(self, *, force: bool = False) -> None:
        async with self._lock:
            if self._closed:
                return
            mods: list[dict[str, Any]] = []
            for qid, query in self.queries.items():
                sub = query.sub
                if query.sent_version == sub.version:
                    continue
                query.sent_version = sub.version
                if sub.error is not None:
                    message, data, has_data = sub.error
                    mod: dict[str, Any] = {
                        "type": "QueryFailed",
                        "queryId": qid,
                        "errorMessage": message,
                        "logLines": sub.log_lines,
                        "journal": sub.journal,
                    }
                    if has_data:
                        mod["errorData"] = data
                else:
                    mod = {
                        "type": "QueryUpdated",
                        "queryId": qid,
                        "value": sub.value_fragment,
                        "encoded": True,
                        "logLines": sub.log_lines,
                        "journal": sub.journal,
                    }
                mods.append(mod)
            mods.extend({"type": "QueryRemoved", "queryId": qid} for qid in self._removed)
            self._removed.clear()
            end = {
                "querySet": self.query_set_version,
                "identity": self.identity_version,
                "ts": max(self.manager.current_ts, self.current["ts"]),
            }
            if not mods and not force and end == self.current:
                return
            transition: dict[str, Any] = {
                "type": "Transition",
                "startVersion": dict(self.current),
                "endVersion": end,
                "modifications": mods,
                "serverTs": time.time_ns(),
            }
            if self._clock_skew is not None:
                transition["clientClockSkew"] = self._clock_skew
            self.current = end
            await self.send(transition)

    # ---------------------------------------------------------------- requests
    async def _mutation_worker(self) -> None:
        while True:
            queued = await self._mutations.get()
            await self._mutation(queued)

    async def _mutation(self, queued: _QueuedMutation) -> None:
        msg = queued.msg
        response: dict[str, Any]
        # Answered from its durable record if it already ran (sync/requests.py).
        try:
            result, _ = await run_session_mutation(
                self.runner, self.session_id, msg["requestId"], msg["udfPath"],
                msg["args"], queued.identity, is_admin=queued.is_admin,
            )
        except Exception as e:
            message, data, has_data = format_function_error(
                e, ws_request_id(self.session_id, msg["requestId"])
            )
            response = {
                "type": "MutationResponse",
                "requestId": msg["requestId"],
                "success": False,
                "result": message,
                "ts": None,
                "logLines": list(getattr(e, "log_lines", [])),
            }
            if has_data:
                response["errorData"] = data
        else:
            response = {
                "type": "MutationResponse",
                "requestId": msg["requestId"],
                "success": True,
                "result": result.value,
                "ts": result.ts,
                "logLines": result.log_lines,
            }
        async with self._lock:
            # The covering Transition follows at once (sent together, one write).
            await self.send(response, more=True)
        if response.get("ts") is not None:
            await self.manager.wait_for(response["ts"])
        await self.send_transition(force=True)

    async def _action(self, msg: dict[str, Any]) -> None:
        try:
            result = await self.runner.run_action(
                msg["udfPath"], msg["args"], self.identity, internal_ok=self.is_admin
            )
        except Exception as e:
            message, data, has_data = format_function_error(
                e, ws_request_id(self.session_id, msg["requestId"])
            )
            response: dict[str, Any] = {
                "type": "ActionResponse",
                "requestId": msg["requestId"],
                "success": False,
                "result": message,
                "logLines": list(getattr(e, "log_lines", [])),
            }
            if has_data:
                response["errorData"] = data
        else:
            response = {
                "type": "ActionResponse",
                "requestId": msg["requestId"],
                "success": True,
                "result": result.value,
                "logLines": result.log_lines,
            }
        async with self._lock:
            await self.send(response)


class _CloseAfterAuthError(Exception):
    """The connection closes after an AuthError (the client reconnects)."""


CloseAfterAuthError = _CloseAfterAuthError
