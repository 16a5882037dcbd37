"""The one table from error codes to HTTP statuses, and the one JSON shape of
request-level errors: ``{"code": <ShortName>, "message": <text>}``.

(A sync socket closes with its own codes, in ``server/ws.py``: 1008 and the message
after a protocol error, 1000 after an auth error, 1011 and ``InternalServerError`` after
anything else.)"""

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
