"""Sync-session mutations run exactly once, however often the client resends them.

The official clients resend every mutation they have no answer for after a reconnect,
with the same ``(sessionId, requestId)``; the answer may have been lost with a crashed
server, and the resend may reach another process sharing the database. Each mutation
therefore runs in one transaction with a lookup of its record in ``_session_requests``
(``pyconvex.database.session_requests``): found, it is answered from the record and
the handler does not run; not found, the handler runs and its outcome is recorded in the
same transaction. A failed mutation writes nothing, its record included, so a resend
runs it again (as a first send that never reached the server would).

A record is bound to the identity that made it (its token identifier, not the token,
which a client refreshes): a resend under another identity, such as a socket that
reuses someone else's session id, is refused instead of being told their result.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable
from typing import Any

from pyconvex.database import Database, Transaction
from pyconvex.database.session_requests import (
    SESSION_REQUEST_RETENTION_MS,
    SessionRequestRecord,
    collect_session_requests,
    find_session_request,
    record_head,
    record_session_request,
    record_session_value,
)
from pyconvex.errors import ForbiddenError
from pyconvex.functions import FunctionRunner
from pyconvex.functions.registration import FunctionKind
from pyconvex.functions.runtime import FunctionResult
from pyconvex.functions.runtime.ctx_impl import MutationCtx
from pyconvex.functions.runtime.logs import current_log
from pyconvex.protocol import messages as wire

log = logging.getLogger("pyconvex.sync")

CLEANUP_EVERY_S = 30 * 60.0
"""Records are collected once per this period, at a random point of it (as Convex)."""
CLEANUP_PASS = 512
"""Records deleted per pass (in transactions of 64); after each pass the collector rests
as long as the pass took, so it never takes more than half of the loop from users, yet
deletes faster than mutations (each a whole transaction) can create records: the table
stays bounded by the retention window whatever the load."""


class SessionRequestMismatch(ForbiddenError):
    short_msg = "SessionRequestIdentityMismatch"


def identity_binding(identity: dict[str, Any] | None, is_admin: bool) -> str:
    """Who a record belongs to: stable across token refreshes, distinct between users."""
    who = ""
    if identity is not None:
        token = identity.get("tokenIdentifier")
        who = str(token) if token is not None else f"{identity.get('issuer')}|{identity.get('subject')}"
    return f"{'admin' if is_admin else 'user'}:{who}"


class SessionRecorder:
    """Writes each first-connection mutation's record of one session, in the
    mutation's transaction (``run_mutation_then``'s ``then``). One per session worker,
    not a closure per mutation (a function and its cells): the worker runs one mutation
    at a time, so ``request_id`` is the running one's; the record's head (its identity,
    ``bind``) is made once per identity. It keeps the value's Convex JSON that it
    encoded for the record (``result_json``, None until then): the MutationResponse
    frame writes those bytes instead of encoding the same value a second time."""

    __slots__ = ("_binding", "_head", "request_id", "result_json", "session_id")

    def __init__(self, session_id: str, binding: str) -> None:
        self.session_id = session_id
        self.request_id = 0
        self.result_json: bytes | None = None
        self._binding = binding
        self._head = record_head(binding)

    def bind(self, binding: str) -> None:
        """Records written from now on belong to ``binding`` (``identity_binding``)."""
        if binding != self._binding:
            self._binding, self._head = binding, record_head(binding)

    def __call__(self, txn: Transaction, value: Any, lines: list[str]) -> None:
        # (Each attempt of the OCC loop records again: the last one's bytes are kept.)
        self.result_json = record_session_value(
            txn, self.session_id, self.request_id, self._head, value, lines)


def session_mutation(
    runner: FunctionRunner, recorder: SessionRecorder, msg: wire.Mutation,
    identity: dict[str, Any] | None, is_admin: bool, may_be_resent: bool,
) -> Awaitable[FunctionResult]:
    """The result of a session's Mutation message, as :func:`run_session_mutation` gives
    it, for the session's mutation worker. On a first connection it is the OCC loop's
    own coroutine: the handler starts straight from that loop, ``recorder`` (bound to
    the caller's ``identity_binding``) writes the record once it returned, and no
    coroutine of this module stays suspended while the mutation commits. Raises a
    resolution error at once. ``recorder.result_json`` is reset here, and set only on
    this path."""
    recorder.result_json = None
    if may_be_resent:
        return _result_of(run_session_mutation(
            runner, recorder.session_id, msg["requestId"], msg["udfPath"], msg["args"],
            identity, is_admin=is_admin,
        ))
    fn = runner.resolve(msg["udfPath"], FunctionKind.MUTATION, is_admin)
    recorder.request_id = msg["requestId"]
    return runner.run_mutation_then(fn, msg["args"], identity, recorder)


async def _result_of(ran: Awaitable[tuple[FunctionResult, bool]]) -> FunctionResult:
    return (await ran)[0]


async def run_session_mutation(
    runner: FunctionRunner,
    session_id: str,
    request_id: int,
    path: str,
    args: Any,
    identity: dict[str, Any] | None,
    *,
    is_admin: bool,
    may_be_resent: bool = True,
) -> tuple[FunctionResult, bool]:
    """Run (or answer from its record) one mutation of a session; returns the result and
    whether it was a replay. Raises what the handler raised (nothing committed then).

    ``may_be_resent=False``: the session's first connection (``connectionCount`` 0) can
    carry no resend, so the lookup is skipped (the record is still written); it halves
    what the record costs a mutation. A client that reconnects says so in its count."""
    if not may_be_resent:
        msg: wire.Mutation = {"type": "Mutation", "requestId": request_id, "udfPath": path,
                              "args": args}
        recorder = SessionRecorder(session_id, identity_binding(identity, is_admin))
        return await session_mutation(runner, recorder, msg, identity, is_admin, False), False
    fn = runner.resolve(path, FunctionKind.MUTATION, is_admin)
    binding = identity_binding(identity, is_admin)
    replay: SessionRequestRecord | None = None

    async def body(ctx: MutationCtx, txn: Transaction) -> Any:
        nonlocal replay
        record = await find_session_request(txn, session_id, request_id)
        if record is not None:
            if record.identity != binding:
                raise SessionRequestMismatch(
                    f"Mutation {request_id} of session {session_id} was already run by "
                    "another identity: a client must not reuse another connection's "
                    "session id. Connect with a fresh session id."
                )
            replay = record
            return record.value
        replay = None
        value = await runner.call_in_transaction(fn, args, ctx, txn)
        record_session_request(
            txn, session_id, request_id, binding, value, list(current_log.get(None) or [])
        )
        return value

    result = await runner.run_in_transaction(body, fn.path or "?", identity)
    if replay is not None:
        result.log_lines, result.ts = list(replay.log_lines), replay.ts
        log.info("mutation %s of session %s was already committed: answered from its record",
                 request_id, session_id)
    return result, replay is not None


class SessionRequestCollector:
    """Deletes records past the retention window, now and then, in small transactions.
    Every process runs one; two collecting the same rows conflict and one retries."""

    def __init__(self, db: Database, retention_ms: float = SESSION_REQUEST_RETENTION_MS) -> None:
        self.db = db
        self.retention_ms = retention_ms
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(random.uniform(0, CLEANUP_EVERY_S))
            try:
                await self.collect()
            except Exception:
                log.exception("collecting old session request records failed")

    async def collect(self) -> int:
        """Delete every expired record, resting between passes (``CLEANUP_PASS``)."""
        total = 0
        while True:
            started = time.monotonic()
            n = await collect_session_requests(self.db, self.retention_ms, limit=CLEANUP_PASS)
            total += n
            if n < CLEANUP_PASS:
                return total
            await asyncio.sleep(time.monotonic() - started)
