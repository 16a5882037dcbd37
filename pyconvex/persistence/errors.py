"""Errors of the storage boundary: driver errors never escape as driver types.

Both sit in the tree of ``pyconvex/errors.py``: a ``StorageError`` is an internal error
(clients see "Server Error"), a ``DeploymentLockedError`` is a refused request that
names the file and what to do.
"""

from __future__ import annotations

from pyconvex.errors import BadRequestError, InternalError


class StorageError(InternalError):
    """A storage operation failed; the message carries the driver's own text."""

    short_msg = "StorageError"


class DeploymentLockedError(BadRequestError):
    """Another pyconvex process (or another open store in this one) holds the database."""

    short_msg = "DeploymentLocked"
