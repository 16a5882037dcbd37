"""What a sync session answers a Mutation or an Action with, as the protocol's types.

Kept apart from the session's state machine (``session.py``): these are pure functions
of the request and its outcome."""

from __future__ import annotations

import hashlib
from typing import Any

from pyconvex.functions import log_lines_of
from pyconvex.functions.runtime import FunctionResult
from pyconvex.protocol import messages as wire
from pyconvex.sync.errors import format_function_error


def ws_request_id(session_id: str, request_id: int) -> str:
    """The request id a WebSocket request's failure is logged and answered under."""
    return hashlib.sha256(f"{session_id}|{request_id}".encode()).hexdigest()[:16]


def _failure(session_id: str, msg: wire.Mutation | wire.Action,
             e: BaseException) -> tuple[str, Any, bool]:
    return format_function_error(e, ws_request_id(session_id, msg["requestId"]))


def mutation_response(
    session_id: str, msg: wire.Mutation, outcome: FunctionResult | BaseException,
    result_json: bytes | None = None,
) -> wire.MutationResponse:
    """Success carries the value and the commit's ``ts``; failure the client's message and
    ``ts`` None. ``result_json``: the value's Convex JSON bytes, when its record made
    them already (``sync/requests.py``'s ``SessionRecorder``): the frame writes them."""
    if not isinstance(outcome, BaseException):
        done: wire.MutationResponse = {
            "type": "MutationResponse", "requestId": msg["requestId"], "success": True,
            "result": outcome.value, "ts": outcome.ts, "logLines": outcome.log_lines}
        if result_json is not None:
            done["result_json"] = result_json
        return done
    message, data, has_data = _failure(session_id, msg, outcome)
    response: wire.MutationResponse = {"type": "MutationResponse", "requestId": msg["requestId"],
                                       "success": False, "result": message, "ts": None,
                                       "logLines": log_lines_of(outcome)}
    if has_data:
        response["errorData"] = data
    return response


def action_response(session_id: str, msg: wire.Action,
                    outcome: FunctionResult | BaseException) -> wire.ActionResponse:
    if not isinstance(outcome, BaseException):
        return {"type": "ActionResponse", "requestId": msg["requestId"], "success": True,
                "result": outcome.value, "logLines": outcome.log_lines}
    message, data, has_data = _failure(session_id, msg, outcome)
    response: wire.ActionResponse = {"type": "ActionResponse", "requestId": msg["requestId"],
                                     "success": False, "result": message,
                                     "logLines": log_lines_of(outcome)}
    if has_data:
        response["errorData"] = data
    return response
