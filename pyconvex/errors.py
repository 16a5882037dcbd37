"""Every error pyconvex raises, as one tree with stable codes.

Each pyconvex error carries an :class:`ErrorCode` (which decides the HTTP status in
exactly one table, in ``server/errors.py``), a stable
``short_msg`` in CapitalCamel that tests and clients may match on, and a message that
names what was wrong. ``ConvexError`` is the one users raise themselves; its ``data``
crosses the wire intact. Errors defined elsewhere are drawn here too, with their module
(``tests/test_errors.py`` checks that every error class is in the tree, under its base).

```
* ConvexError(data)                  user-raised; .data reaches the client intact
* PyConvexError                      ours; .code, .short_msg, str() = message
  x BadRequestError                  400
    + ArgumentValidationError        "messages:send: args.channelId: expected Id(\"channels\"), got 42"
    + ReturnValueValidationError
    + SchemaValidationError          a document does not match its table's validator
    + InvalidIdError                 a string that is not a document id (of that table)
    + InvalidValueError              not a Convex value (bad field name, int out of range, ...)
    + LimitExceededError             too many reads/writes, document too large or too deep
      - FunctionTimeoutError         user code ran past its time limit (1 s, actions 10 min)
      - FunctionMemoryError          a function grew memory past its limit
    + NondeterminismError            network I/O, file writes, threads in a query or mutation
    + InvalidQueryError              bad index range, unknown index/table, misuse of a query
    + ProtocolError                  protocol/encoding.py: a malformed sync or HTTP message
    + BadFunctionPathError           functions/registry.py: not 'module:function'
    + FunctionsLoadError             functions/loader.py: the functions directory does not import
    + StorageNotConfiguredError      functions/runtime/services.py: no file store
    + EnvironmentVariableError       database/environment.py: bad name or value
    + RetentionError                 database/database.py: a read below the retention floor
    + MigrationError                 database/migrate.py: migrate-storage refused or unverified
    + DeploymentLockedError          persistence/errors.py: another process owns the database
    + DeployError                    deployment.py: uploaded code refused
    + SnapshotImportError            snapshot/importer.py: a snapshot ZIP that cannot be imported
    + PortInUseError                 server/runner.py: --port / --site-port taken
    + DevError                       dev/loop.py: pyconvex dev cannot start
    + LogStreamConfigError           server/log_streams.py: a log stream that cannot be set up
  x AuthError                        401
    + AuthConfigError                auth/config.py: auth_config.py is malformed
    + TokenExpired                   sync/expiry.py: a session's token expired on an open socket
    + BadTokenError                  files/tokens.py: a forged or expired upload/download token
      - TokenUsedError               server/storage_api.py: a single-use upload URL used twice
  x ForbiddenError                   403
    + SessionRequestMismatch         sync/requests.py: a replayed request id with other content
  x NotFoundError                    404: FunctionNotFound, DocumentNotFound
  x ConflictError                    409: OCC still failing after bounded retries
  x OverloadedError                  503: committer queue full
    + StorageFullError               the disk is full: writes refused until space returns
  x InternalError                    500: reaches clients as "Server Error" + request id
    + StorageError                   persistence/errors.py: the database failed under us
  x ActionWorkerError                500: an action's worker process died under it
* OccConflict                        internal and retryable; never leaves functions.runtime
```
"""

from __future__ import annotations

import enum
from typing import Any


class ErrorCode(enum.Enum):
    BAD_REQUEST = "BadRequest"
    UNAUTHENTICATED = "Unauthenticated"
    FORBIDDEN = "Forbidden"
    NOT_FOUND = "NotFound"
    CONFLICT = "Conflict"
    OVERLOADED = "Overloaded"
    INTERNAL = "Internal"


class ConvexError(Exception):
    """An application error whose ``data`` reaches the client unchanged.

    >>> raise ConvexError({"code": "TooLong", "max": 200})

    The message shown to clients is ``str(data)`` for a string, otherwise a JSON-ish form.
    """

    def __init__(self, data: Any = None) -> None:
        self.data = data
        super().__init__(data if isinstance(data, str) else repr(data))


class PyConvexError(Exception):
    """Base of every error pyconvex itself raises."""

    code: ErrorCode = ErrorCode.INTERNAL
    short_msg: str = "InternalError"

    def __init__(self, message: str, *, short_msg: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if short_msg is not None:
            self.short_msg = short_msg


class BadRequestError(PyConvexError):
    code = ErrorCode.BAD_REQUEST
    short_msg = "BadRequest"


class ArgumentValidationError(BadRequestError):
    short_msg = "ArgumentValidationError"


class ReturnValueValidationError(BadRequestError):
    short_msg = "ReturnValueValidationError"


class SchemaValidationError(BadRequestError):
    short_msg = "SchemaValidationError"


class InvalidIdError(BadRequestError):
    short_msg = "InvalidId"


class InvalidValueError(BadRequestError):
    short_msg = "InvalidValue"


class LimitExceededError(BadRequestError):
    short_msg = "LimitExceeded"


class NondeterminismError(BadRequestError):
    short_msg = "NondeterministicOperation"


class InvalidQueryError(BadRequestError):
    short_msg = "InvalidQuery"


class FunctionTimeoutError(LimitExceededError):
    """A query or mutation ran user code past its limit, or an action past its own; the
    execution was stopped and (a mutation) wrote nothing."""

    short_msg = "FunctionTimeout"


class FunctionMemoryError(LimitExceededError):
    short_msg = "MemoryLimitExceeded"


class AuthError(PyConvexError):
    code = ErrorCode.UNAUTHENTICATED
    short_msg = "Unauthenticated"


class ForbiddenError(PyConvexError):
    code = ErrorCode.FORBIDDEN
    short_msg = "Forbidden"


class NotFoundError(PyConvexError):
    code = ErrorCode.NOT_FOUND
    short_msg = "NotFound"


class ConflictError(PyConvexError):
    code = ErrorCode.CONFLICT
    short_msg = "OptimisticConcurrencyControlFailure"


class OverloadedError(PyConvexError):
    code = ErrorCode.OVERLOADED
    short_msg = "CommitterFullError"


class StorageFullError(OverloadedError):
    """The database's or the file store's disk is full. Nothing acknowledged is lost;
    writes are refused, each with this error, until space is freed, and then succeed."""

    short_msg = "StorageFull"


NO_SPACE_SIGNS = ("database or disk is full", "No space left on device", "could not extend file")
"""Driver messages that mean the disk is full (SQLite, the OS, PostgreSQL)."""


def storage_full(what: str, detail: object) -> StorageFullError:
    return StorageFullError(
        f"The deployment's storage is full: {what} failed ({detail}). Nothing acknowledged "
        "was lost; writes are refused until disk space is freed."
    )


class InternalError(PyConvexError):
    code = ErrorCode.INTERNAL
    short_msg = "InternalServerError"


class ActionWorkerError(PyConvexError):
    """The worker process running an action exited under it (killed, crashed). Not an
    :class:`InternalError`: the message, which says what happened, reaches the client."""

    code = ErrorCode.INTERNAL
    short_msg = "ActionWorkerLost"


class OccConflict(Exception):
    """A commit lost a race: something it read was written since it began. Retryable."""

    def __init__(
        self, message: str = "write conflict", *, conflicting_ts: int | None = None,
        key: tuple[int, bytes] | None = None,
    ):
        super().__init__(message)
        self.conflicting_ts = conflicting_ts
        self.key = key
        """The ``(index id, key)`` written by the winner inside this one's read set (for
        the dashboard's insights: which document is hot)."""


__all__ = [
    "ActionWorkerError",
    "ArgumentValidationError",
    "AuthError",
    "BadRequestError",
    "ConflictError",
    "ConvexError",
    "ErrorCode",
    "ForbiddenError",
    "FunctionMemoryError",
    "FunctionTimeoutError",
    "InternalError",
    "InvalidIdError",
    "InvalidQueryError",
    "InvalidValueError",
    "LimitExceededError",
    "NondeterminismError",
    "NotFoundError",
    "OccConflict",
    "OverloadedError",
    "PyConvexError",
    "ReturnValueValidationError",
    "SchemaValidationError",
    "StorageFullError",
]
