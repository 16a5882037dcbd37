"""Errors the Python client raises, named and shaped as in convex-py so that code moves
between the two unchanged.

```
* pyconvex.errors.ConvexError
  + ConvexError(message, data)     the function threw a ConvexError; .data is its payload
* ConvexExecutionError(message)    any other failure of the function on the server
  + ConvexConnectionError          the connection failed the call: an action in flight when
                                   the socket dropped, a FatalError, or the client closed
```

``ConvexError`` subclasses ``pyconvex.errors.ConvexError``, so ``except
pyconvex.ConvexError`` catches application errors raised in-process (``pyconvex.testing``)
and over the wire alike. Whether a failure carries data is decided by the *presence* of
``errorData`` on the wire, not by its value: ``ConvexError(None)`` has data ``None``.
"""

from __future__ import annotations

from typing import Any

from pyconvex.errors import ConvexError as _BaseConvexError


class ConvexError(_BaseConvexError):
    """An application error thrown by the function with ``ConvexError(data)``.

    >>> try:
    ...     client.mutation("messages:send", {"body": ""})
    ... except ConvexError as e:
    ...     print(e.data)   # whatever the server raised, decoded from Convex JSON
    """

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(data)
        self.message = message
        self.args = (message,)

    def __str__(self) -> str:
        return self.message


class ConvexExecutionError(Exception):
    """The function failed on the server for any reason other than a ConvexError (an
    uncaught exception, argument validation, a missing function). The message is the
    server's: ``"[Request ID: ...] Server Error"`` plus details on dev deployments."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConvexConnectionError(ConvexExecutionError):
    """The call did not complete because of the connection, not the function: an action
    was in flight when the socket dropped (actions are not retried, as in convex-js), the
    server sent a FatalError, or the client was closed while the call was waiting."""
