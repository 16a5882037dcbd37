"""The client's protocol state machine, without I/O (docs/style.md §7; Convex ``BaseConvexClient``).

Methods take user calls or decoded server messages and return the messages to send and
the events to deliver; ``_async.py`` moves them over a socket. The rules, from
docs/protocol.md §3–§7 and convex-js ``local_state.ts`` / ``request_manager.ts``:

- **One session id for the client's life**, sent in every ``Connect`` (JS does the same),
  so the server can de-duplicate mutations replayed after a reconnect.
- **Query set.** Query ids come from a counter and are never reused. Identical
  subscriptions (same path and args) share one query id, reference-counted. Each change
  sent on a socket is a ``ModifyQuerySet`` numbered ``n -> n+1`` from 0 on that socket.
- **Transitions** must start exactly where the previous one on this socket ended
  (``{0, 0, 0}`` first); anything else raises :class:`ProtocolError` and the shell
  reconnects (as the Rust client does), since applying it would mix snapshots.
- **Read-your-writes.** A successful ``MutationResponse`` only records its commit ``ts``;
  the mutation completes once a Transition has brought the query results to at least that
  ts, so the subscriptions already show its writes when the caller sees the result.
  Failures and actions complete at once.
- **Auth.** ``Authenticate.baseVersion`` counts the Authenticates sent on the socket; a
  Transition that raises ``endVersion.identity`` to that count confirms the token. An
  ``AuthError`` for the latest token drops it (the server closes; we reconnect without it).
- **Reconnect** (``on_close`` then ``on_open``): ``Connect`` (same session, next
  ``connectionCount``, ``maxObservedTimestamp``), ``Authenticate`` if a token is set,
  ``ModifyQuerySet 0 -> 1`` re-adding every live query with its last journal, then every
  unfinished mutation, including those answered but not yet covered by a Transition.
  Actions in flight are failed, not resent (a second run could repeat side effects).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from pyconvex.client._events import (
    AuthChange,
    ClientEvent,
    FunctionResult,
    QueryResult,
    RequestDone,
    RequestLost,
    ServerFatal,
)
from pyconvex.protocol import (
    Action,
    ActionResponse,
    Authenticate,
    AuthErrorMessage,
    ClientMessage,
    ModifyQuerySet,
    Mutation,
    MutationResponse,
    ProtocolError,
    QuerySetModification,
    ServerMessage,
    StateVersion,
    Transition,
)
from pyconvex.values import convex_to_json, json_to_convex

ACTION_LOST = "Connection lost while action was in flight"




@dataclass(slots=True)
class _Query:
    path: str
    args: dict[str, Any]
    key: bytes
    refcount: int = 1
    journal: str | None = None
    result: FunctionResult | None = None


@dataclass(slots=True)
class _Request:
    message: Mutation | Action
    sent: bool = False
    completed: FunctionResult | None = None  # succeeded, waiting for a Transition to ts
    completed_ts: int = 0


@dataclass(frozen=True, slots=True)
class _Auth:
    token_type: Literal["User", "Admin"]
    value: str
    impersonating: Any = None


def _zero() -> StateVersion:
    return {"querySet": 0, "identity": 0, "ts": 0}


def _copy_args(args: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """A private copy of ``args`` and its canonical key; raises InvalidValueError early,
    in the caller's frame, for anything that is not a Convex value."""
    if not isinstance(args, dict):
        raise TypeError(f"function args must be a dict, got {type(args).__name__}")
    encoded = convex_to_json(args)
    key = orjson.dumps(encoded, option=orjson.OPT_SORT_KEYS)
    return json_to_convex(encoded), key  # type: ignore[return-value]


class ClientState:
    """Everything one client knows about its queries, requests and auth; no I/O."""

    def __init__(self, session_id: str | None = None) -> None:
        self.session_id = session_id or str(uuid.uuid4())
        self.connected = False
        self.connection_count = 0
        self.max_observed_ts: int | None = None
        self.query_set_version = 0
        self.identity_version = 0
        self.remote_version: StateVersion = _zero()
        self._close_reason: str | None = "InitialConnect"
        self._next_query_id = 0
        self._queries: dict[int, _Query] = {}
        self._by_key: dict[bytes, int] = {}
        self._next_request_id = 0
        self._requests: dict[int, _Request] = {}
        self._auth: _Auth | None = None
        self._auth_confirmed = False

    # ------------------------------------------------------------------ socket
    def on_open(self, client_ts: int | None = None) -> list[ClientMessage]:
        """A socket opened: the messages that restore our whole state on it, in order."""
        if self.connected:
            raise RuntimeError("on_open() called twice without on_close()")
        self.connected = True
        self.query_set_version = self.identity_version = 0
        self.remote_version = _zero()
        out: list[ClientMessage] = [
            {
                "type": "Connect",
                "sessionId": self.session_id,
                "connectionCount": self.connection_count,
                "lastCloseReason": self._close_reason,
                "maxObservedTimestamp": self.max_observed_ts,
                "clientTs": client_ts,
            }
        ]
        self.connection_count += 1
        if self._auth is not None:
            out.append(self._authenticate())
        adds: list[QuerySetModification] = [
            {"type": "Add", "queryId": qid, "udfPath": q.path, "args": q.args, "journal": q.journal}
            for qid, q in self._queries.items()
        ]
        out.append(self._modify(adds))
        for request in self._requests.values():
            if request.message["type"] == "Mutation" or not request.sent:
                request.sent = True
                out.append(request.message)
        return out

    def on_close(self, reason: str) -> list[ClientEvent]:
        """The socket closed: fail the actions in flight; everything else waits."""
        if not self.connected:
            return []
        self.connected = False
        self._close_reason = reason
        events: list[ClientEvent] = []
        for rid, request in list(self._requests.items()):
            if request.message["type"] == "Action" and request.sent:
                del self._requests[rid]
                events.append(RequestLost(rid, ACTION_LOST))
            else:
                request.sent = False
        return events

    # ------------------------------------------------------------------ queries
    def subscribe(self, path: str, args: dict[str, Any]) -> tuple[int, list[ClientMessage]]:
        """The query id for (path, args), shared with identical live subscriptions."""
        args, key = _copy_args(args)
        key = path.encode() + b"\x00" + key
        qid = self._by_key.get(key)
        if qid is not None:
            self._queries[qid].refcount += 1
            return qid, []
        qid = self._next_query_id
        self._next_query_id += 1
        self._queries[qid] = _Query(path, args, key)
        self._by_key[key] = qid
        if not self.connected:
            return qid, []
        return qid, [
            self._modify(
                [{"type": "Add", "queryId": qid, "udfPath": path, "args": args, "journal": None}]
            )
        ]

    def unsubscribe(self, query_id: int) -> list[ClientMessage]:
        query = self._queries.get(query_id)
        if query is None:
            return []
        query.refcount -= 1
        if query.refcount > 0:
            return []
        del self._queries[query_id]
        del self._by_key[query.key]
        if not self.connected:
            return []
        return [self._modify([{"type": "Remove", "queryId": query_id}])]

    def result(self, query_id: int) -> FunctionResult | None:
        """The latest result of a live query, if the server has sent one."""
        query = self._queries.get(query_id)
        return query.result if query is not None else None

    def _modify(self, mods: list[QuerySetModification]) -> ModifyQuerySet:
        base = self.query_set_version
        self.query_set_version += 1
        return {"type": "ModifyQuerySet", "baseVersion": base, "newVersion": base + 1,
                "modifications": mods}

    # ------------------------------------------------------------------ requests
    def mutation(self, path: str, args: dict[str, Any]) -> tuple[int, list[ClientMessage]]:
        return self._request("Mutation", path, args)

    def action(self, path: str, args: dict[str, Any]) -> tuple[int, list[ClientMessage]]:
        return self._request("Action", path, args)

    def _request(
        self, kind: Literal["Mutation", "Action"], path: str, args: dict[str, Any]
    ) -> tuple[int, list[ClientMessage]]:
        args, _ = _copy_args(args)
        rid = self._next_request_id
        self._next_request_id += 1
        message: Mutation | Action
        if kind == "Mutation":
            message = {"type": "Mutation", "requestId": rid, "udfPath": path, "args": args}
        else:
            message = {"type": "Action", "requestId": rid, "udfPath": path, "args": args}
        request = _Request(message, sent=self.connected)
        self._requests[rid] = request
        return rid, [message] if self.connected else []

    @property
    def pending_requests(self) -> list[int]:
        return list(self._requests)

    # ------------------------------------------------------------------ auth
    def set_auth(
        self, value: str, *, token_type: Literal["User", "Admin"] = "User", impersonating: Any = None
    ) -> list[ClientMessage]:
        self._auth = _Auth(token_type, value, impersonating)
        self._auth_confirmed = False
        return [self._authenticate()] if self.connected else []

    def clear_auth(self) -> list[ClientMessage]:
        had_auth, self._auth, self._auth_confirmed = self._auth is not None, None, False
        return [self._authenticate()] if self.connected and had_auth else []

    def _authenticate(self) -> Authenticate:
        base = self.identity_version
        self.identity_version += 1
        if self._auth is None:
            return {"type": "Authenticate", "baseVersion": base, "tokenType": "None",
                    "value": None, "impersonating": None}
        return {"type": "Authenticate", "baseVersion": base, "tokenType": self._auth.token_type,
                "value": self._auth.value, "impersonating": self._auth.impersonating}

    @property
    def has_auth(self) -> bool:
        return self._auth is not None

    # ------------------------------------------------------------------ server messages
    def receive(self, msg: ServerMessage) -> list[ClientEvent]:
        """Apply one server message; raises ProtocolError when the socket must be reset."""
        if msg["type"] == "Transition":
            return self._on_transition(msg)
        if msg["type"] == "MutationResponse" or msg["type"] == "ActionResponse":
            return self._on_response(msg)
        if msg["type"] == "AuthError":
            return self._on_auth_error(msg)
        if msg["type"] == "FatalError":
            return [ServerFatal(msg["error"])]
        return []  # Ping: keepalive only

    def _observe(self, ts: int) -> None:
        if self.max_observed_ts is None or ts > self.max_observed_ts:
            self.max_observed_ts = ts

    def _on_transition(self, msg: Transition) -> list[ClientEvent]:
        start, end = msg["startVersion"], msg["endVersion"]
        if start != self.remote_version:
            raise ProtocolError(
                f"StartVersionMismatch: Transition starts at {start} but the client is at "
                f"{self.remote_version}"
            )
        if (
            end["querySet"] < start["querySet"]
            or end["identity"] < start["identity"]
            or end["ts"] < start["ts"]
        ):
            raise ProtocolError(f"Transition goes backwards: {start} -> {end}")
        if end["querySet"] > self.query_set_version or end["identity"] > self.identity_version:
            raise ProtocolError(
                f"Transition ends at {end}, beyond what the client sent (querySet "
                f"{self.query_set_version}, identity {self.identity_version})"
            )
        events: list[ClientEvent] = []
        for mod in msg["modifications"]:
            query = self._queries.get(mod["queryId"])
            if query is None or mod["type"] == "QueryRemoved":
                continue  # removed locally since; the server catches up
            if mod["type"] == "QueryUpdated":
                result = FunctionResult(True, mod["value"], tuple(mod["logLines"]))
            else:
                result = FunctionResult(
                    False, mod["errorMessage"], tuple(mod["logLines"]),
                    mod.get("errorData"), "errorData" in mod,
                )
            query.result, query.journal = result, mod["journal"]
            events.append(QueryResult(mod["queryId"], result))
        self.remote_version = end
        self._observe(end["ts"])
        if (
            self._auth is not None
            and not self._auth_confirmed
            and end["identity"] > start["identity"]
            and end["identity"] == self.identity_version
        ):
            self._auth_confirmed = True
            events.append(AuthChange(True))
        for rid, request in list(self._requests.items()):
            if request.completed is not None and request.completed_ts <= end["ts"]:
                del self._requests[rid]
                events.append(RequestDone(rid, request.completed))
        return events

    def _on_response(self, msg: MutationResponse | ActionResponse) -> list[ClientEvent]:
        rid = msg["requestId"]
        request = self._requests.get(rid)
        if request is None:
            return []  # already settled (a replayed mutation answered twice); JS ignores it
        expected = request.message["type"] + "Response"
        if msg["type"] != expected:
            raise ProtocolError(f"{msg['type']} for {request.message['type']} request {rid}")
        lines = tuple(msg["logLines"])
        if not msg["success"]:
            del self._requests[rid]
            failure = FunctionResult(
                False, msg["result"], lines, msg.get("errorData"), "errorData" in msg
            )
            return [RequestDone(rid, failure)]
        result = FunctionResult(True, msg["result"], lines)
        ts = msg["ts"] if msg["type"] == "MutationResponse" else None
        if ts is None or ts <= self.remote_version["ts"]:
            del self._requests[rid]
            if ts is not None:
                self._observe(ts)
            return [RequestDone(rid, result)]
        self._observe(ts)
        request.completed, request.completed_ts = result, ts
        return []

    def _on_auth_error(self, msg: AuthErrorMessage) -> list[ClientEvent]:
        base = msg["baseVersion"]
        if self._auth is None or (base is not None and base + 1 < self.identity_version):
            return []  # about a token we already replaced; the newer one is pending
        self._auth, self._auth_confirmed = None, False
        return [AuthChange(False, msg["error"])]


class Backoff:
    """Exponential reconnect delays with jitter: ``initial`` doubling up to ``maximum``,
    each drawn from the upper half of its range so a flapping server is not hammered."""

    def __init__(
        self,
        initial: float = 0.1,
        maximum: float = 15.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.initial, self.maximum, self._rand = initial, maximum, rand
        self.failures = 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * (1 << min(self.failures, 32)))
        self.failures += 1
        return ceiling / 2 + float(self._rand()) * ceiling / 2

    def reset(self) -> None:
        self.failures = 0


def function_path(fn: Any) -> str:
    """``"messages:list"`` or any object with a string ``.path`` (``api.messages.list``)."""
    if isinstance(fn, str):
        return fn
    path = getattr(fn, "path", None)
    if isinstance(path, str):
        return path
    raise TypeError(
        f"expected a function path like 'messages:list' or a function reference with a "
        f".path (api.messages.list), got {fn!r}"
    )
