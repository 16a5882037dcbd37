"""Exceptions across the process boundary, both ways.

A ``ConvexError`` arrives as a ``ConvexError`` with the same ``data`` (a client still
gets its data, an action can still catch it); pyconvex's own errors and Python's
builtin ones arrive as themselves; anything else (a user's own exception class) as
:class:`RemoteError` with the original type's name and message. Each keeps the
traceback of where it was raised, which is what the logs show.
"""

from __future__ import annotations

import pickle

from pyconvex.errors import ConvexError
from pyconvex.functions.isolation.channel import RemoteFailure
from pyconvex.functions.runtime.failures import describe, user_traceback


class RemoteError(Exception):
    """An exception of a user-defined type raised in another pyconvex process."""

    def __init__(self, description: str, traceback: str) -> None:
        super().__init__(description)
        self.remote_description = description
        self.remote_traceback = traceback


def to_remote(e: BaseException, log_lines: tuple[str, ...] = ()) -> RemoteFailure:
    tb = user_traceback(e)
    if isinstance(e, ConvexError):
        return RemoteFailure(describe(e), tb, e.data, True, log_lines=log_lines)
    pickled = None
    module = type(e).__module__
    if module == "builtins" or module.startswith("pyconvex."):
        try:
            pickled = pickle.dumps(e, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # an unpicklable argument: the description still crosses
            pickled = None
    return RemoteFailure(describe(e), tb, pickled=pickled, log_lines=log_lines)


def from_remote(failure: RemoteFailure) -> BaseException:
    e: BaseException
    if failure.is_convex_error:
        e = ConvexError(failure.convex_data)
    else:
        try:
            loaded = pickle.loads(failure.pickled) if failure.pickled is not None else None
        except Exception:
            loaded = None
        e = loaded if isinstance(loaded, BaseException) else RemoteError(
            failure.description, failure.traceback
        )
    # Read by failures.describe/user_traceback: the log shows where it was raised.
    vars(e).update(remote_description=failure.description, remote_traceback=failure.traceback)
    return e
