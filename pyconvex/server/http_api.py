"""The HTTP function API the official clients use (docs/protocol.md §8).

Function results and function errors are HTTP 200 with ``{"status": "success"|"error",
...}`` (the Python client breaks on anything else); request-level failures (bad JSON,
bad path, bad format, bad auth) are 4xx with ``{"code", "message"}``.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from pyconvex import __version__
from pyconvex.errors import BadRequestError, PyConvexError
from pyconvex.functions import FunctionKind, canonicalize_path, log_lines_of
from pyconvex.functions.registry import BadFunctionPathError
from pyconvex.functions.runtime.request_meta import RequestOrigin, request_origin_var
from pyconvex.protocol import ProtocolError, decode_args, encode_ts
from pyconvex.server.client_address import request_origin
from pyconvex.server.errors import (
    Reply,
    error_reply,
    error_response,
    json_response,
    request_error,
    request_error_reply,
)
from pyconvex.server.state import ANONYMOUS, ServerState
from pyconvex.sync import format_function_error
from pyconvex.values import convex_to_clean_json, convex_to_json

MAX_BODY = 16 * 1024 * 1024
FORMATS = {None, "convex_encoded_json", "convex_json", "json", "convex_clean_json"}


def _json(obj: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json")


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.server
    return state


async def version(request: Request) -> Response:
    return PlainTextResponse(f"pyconvex {__version__}")


async def root(request: Request) -> Response:
    return PlainTextResponse("This pyconvex deployment is running.")


def too_large(size: int) -> BadRequestError:
    return BadRequestError(f"Request body is {size} bytes (limit {MAX_BODY}).", short_msg="BodyTooLarge")


def parse_body(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_BODY:
        raise too_large(len(raw))
    try:
        body = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError as e:
        raise BadRequestError(f"Request body is not JSON: {e}", short_msg="BadJsonBody") from None
    if not isinstance(body, dict):
        raise BadRequestError("Request body must be a JSON object.", short_msg="BadJsonBody")
    return body


async def call_function(
    state: ServerState,
    kind: FunctionKind | None,
    path: Any,
    body: dict[str, Any],
    authorization: str | None,
    admin_param: str | None,
    origin: RequestOrigin | None = None,
    keep_origin: bool = False,
) -> Reply:
    """One client call, free of any web framework: the plain-ASGI call routes
    (``fast_path.py``) and the Starlette ``/api/run`` route share it. ``origin`` (the
    client's address, User-Agent) is what ``ctx.meta.get_request_metadata()`` tells.

    ``keep_origin``: the caller's task is its own and runs only such calls, one after
    the other (a keep-alive connection's worker, ``http_fast.py``), so the origin is
    set only when it differs from the last call's and is left set afterwards, not set
    and reset around every call (about 1,400 instructions a pair in the serve process,
    by callgrind: the context's mapping copied twice, a token made); a connection's
    calls nearly always share one origin. Anything a call starts copies the context while its origin is set,
    as with the reset."""
    if admin_param is not None:
        return error_reply(
            "AdminKeyInUrl",
            "The admin key is not accepted in the URL (?adminKey=), where it lands in logs: "
            "send it in the Authorization header as 'Convex <admin key>'.",
            400,
        )
    try:
        fmt = body.get("format")
        if fmt not in FORMATS:
            raise BadRequestError(f"Unsupported format {fmt!r}.", short_msg="BadFormat")
        if not isinstance(path, str):
            raise BadFunctionPathError(f"Missing or invalid function path {path!r}.")
        canonical = canonicalize_path(path)
        args = decode_args(body.get("args", {}), "args")
        # Most clients' calls carry no header: ANONYMOUS without making and running
        # ``authenticate``'s coroutine.
        identity, admin = await state.authenticate(authorization) if authorization else ANONYMOUS
    except ProtocolError as e:
        return error_reply("BadJsonBody", e.message, 400)
    except PyConvexError as e:
        return request_error_reply(e)
    runner = state.deployment.runner
    if kind is None:  # /api/run/...: the function's own kind decides
        fn = runner.registry.lookup(canonical)
        kind = fn.kind if fn is not None else FunctionKind.QUERY
        clean = fmt in ("json", "convex_clean_json") or fmt is None
    else:
        clean = fmt in ("json", "convex_clean_json")
    if origin is not None and identity is not None and not admin and authorization:
        origin = origin.with_token(authorization.partition(" ")[2].strip())
    token = None
    if not keep_origin:
        token = request_origin_var.set(origin)  # what ``origin_scope`` does, inline
    elif request_origin_var.get() != origin:
        request_origin_var.set(origin)
    try:
        if kind is FunctionKind.MUTATION:
            result = await runner.run_mutation(canonical, args, identity, internal_ok=admin)
        elif kind is FunctionKind.QUERY:
            # Read every commit acknowledged before this request, by any process.
            await state.deployment.db.catch_up_to_head()
            result = await runner.run_query(canonical, args, identity, internal_ok=admin)
        else:
            result = await runner.run_action(canonical, args, identity, internal_ok=admin)
    except Exception as e:
        message, data, has_data = format_function_error(e)
        out: dict[str, Any] = {"status": "error", "errorMessage": message,
                               "logLines": log_lines_of(e)}
        if has_data:
            out["errorData"] = convex_to_json(data)
        return 200, orjson.dumps(out)
    finally:
        if token is not None:
            request_origin_var.reset(token)
    value = convex_to_clean_json(result.value) if clean else convex_to_json(result.value)
    return 200, orjson.dumps({"status": "success", "value": value, "logLines": result.log_lines})


async def run(request: Request) -> Response:
    """``POST /api/run/messages/list`` with ``{"args": {...}}``. (``/api/query``,
    ``/api/mutation`` and ``/api/action`` are answered before Starlette, in
    ``fast_path.py``.)"""
    try:
        body = parse_body(await request.body())
    except PyConvexError as e:
        return request_error(e)
    segments = [s for s in request.path_params["path"].split("/") if s]
    if len(segments) < 2:
        return error_response("BadConvexFunctionIdentifier", "Expected /api/run/<module>/<function>.", 400)
    path = "/".join(segments[:-1]) + ":" + segments[-1]
    return json_response(await call_function(
        _state(request), None, path, body,
        request.headers.get("authorization"), request.query_params.get("adminKey"),
        request_origin(request.scope, _state(request).trusted_proxies),
    ))


async def query_ts(request: Request) -> Response:
    return _json({"ts": encode_ts(_state(request).deployment.db.latest_ts)})
