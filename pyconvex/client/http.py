"""``ConvexHttpClient``: one HTTP request per call, no WebSocket, no subscriptions.

For scripts and servers that only call functions. It speaks the same HTTP API as
npm's ``ConvexHttpClient`` (``POST /api/query|mutation|action`` with Convex JSON), and
raises the same errors as the WebSocket clients.
"""

from __future__ import annotations

from typing import Any, ParamSpec, TypeVar, overload

import httpx

from pyconvex.client._errors import ConvexError, ConvexExecutionError
from pyconvex.client._state import function_path
from pyconvex.protocol.encoding import encode_args
from pyconvex.protocol.references import FunctionReference
from pyconvex.values import json_to_convex

P = ParamSpec("P")
R = TypeVar("R")

class ConvexHttpClient:
    """>>> with ConvexHttpClient("http://127.0.0.1:3210") as client:
    ...     client.mutation("messages:send", {"body": "hi"})
    """

    def __init__(self, url: str, *, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(timeout=timeout)
        self._auth: str | None = None

    def set_auth(self, token: str) -> None:
        self._auth = f"Bearer {token}"

    def set_admin_auth(self, admin_key: str) -> None:
        self._auth = f"Convex {admin_key}"

    def clear_auth(self) -> None:
        self._auth = None

    @overload
    def query(self, fn: FunctionReference[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R: ...
    @overload
    def query(self, fn: str, args: dict[str, Any] | None = None) -> Any: ...
    def query(self, fn: Any, args: Any = None) -> Any:  # type: ignore[misc]
        return self._call("query", fn, args)

    @overload
    def mutation(self, fn: FunctionReference[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R: ...
    @overload
    def mutation(self, fn: str, args: dict[str, Any] | None = None) -> Any: ...
    def mutation(self, fn: Any, args: Any = None) -> Any:  # type: ignore[misc]
        return self._call("mutation", fn, args)

    @overload
    def action(self, fn: FunctionReference[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R: ...
    @overload
    def action(self, fn: str, args: dict[str, Any] | None = None) -> Any: ...
    def action(self, fn: Any, args: Any = None) -> Any:  # type: ignore[misc]
        return self._call("action", fn, args)

    def _call(self, kind: str, fn: Any, args: dict[str, Any] | None) -> Any:
        body = {"path": function_path(fn), "format": "convex_encoded_json",
                "args": encode_args(args or {})}
        headers = {"Authorization": self._auth} if self._auth else {}
        try:
            response = self._http.post(f"{self.url}/api/{kind}", json=body, headers=headers)
        except httpx.HTTPError as e:
            raise ConvexExecutionError(f"{kind} {body['path']} failed: {e}") from None
        try:
            out = response.json()
        except ValueError:
            raise ConvexExecutionError(f"{response.status_code}: {response.text[:200]}") from None
        if response.status_code != 200:
            raise ConvexExecutionError(
                f"{response.status_code} {out.get('code')}: {out.get('message')}"
            )
        if out.get("status") == "success":
            return json_to_convex(out.get("value"))
        message = str(out.get("errorMessage", "Server Error"))
        if "errorData" in out:
            raise ConvexError(message, json_to_convex(out["errorData"]))
        raise ConvexExecutionError(message)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ConvexHttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
