"""Errors of the storage boundary: driver errors never escape as driver types."""

from __future__ import annotations

from pyconvex.errors import BadRequestError, InternalError


class StorageError(InternalError):
    short_msg = "StorageError"


class DeploymentLockedError(BadRequestError):
    short_msg = "DeploymentLocked"
