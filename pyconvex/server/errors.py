"""The one table from error codes to HTTP statuses and WebSocket close codes, and the one
JSON shape of request-level errors: ``{"code": <ShortName>, "message": <text>}``."""

from __future__ import annotations

import orjson
from starlette.responses import Response

from pyconvex.errors import ErrorCode, PyConvexError

HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.OVERLOADED: 503,
    ErrorCode.INTERNAL: 500,
}

WS_CLOSE: dict[ErrorCode, int] = {
    ErrorCode.BAD_REQUEST: 1008,  # policy violation
    ErrorCode.UNAUTHENTICATED: 1008,
    ErrorCode.FORBIDDEN: 1008,
    ErrorCode.NOT_FOUND: 1008,
    ErrorCode.CONFLICT: 1013,  # try again later
    ErrorCode.OVERLOADED: 1013,
    ErrorCode.INTERNAL: 1011,
}


Reply = tuple[int, bytes]
"""An HTTP status and a JSON body, free of any web framework (the plain-ASGI routes)."""


def error_reply(code: str, message: str, status: int) -> Reply:
    return status, orjson.dumps({"code": code, "message": message})


def request_error_reply(e: PyConvexError) -> Reply:
    return error_reply(e.short_msg, e.message, HTTP_STATUS[e.code])


def json_response(reply: Reply) -> Response:
    return Response(reply[1], status_code=reply[0], media_type="application/json")


def error_response(code: str, message: str, status: int) -> Response:
    return json_response(error_reply(code, message, status))


def request_error(e: PyConvexError) -> Response:
    return json_response(request_error_reply(e))
