"""The one table from error codes to HTTP statuses and WebSocket close codes, and the one
JSON shape of request-level errors: ``{"code": <ShortName>, "message": <text>}``."""

from __future__ import annotations

from starlette.responses import JSONResponse

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


def error_response(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def request_error(e: PyConvexError) -> JSONResponse:
    return error_response(e.short_msg, e.message, HTTP_STATUS[e.code])
