"""The sync engine: live subscriptions and per-connection sessions."""

from pyconvex.functions import new_request_id
from pyconvex.sync.authenticate import CloseAfterAuthError, VerifyToken
from pyconvex.sync.errors import format_function_error
from pyconvex.sync.interval_index import IntervalIndex
from pyconvex.sync.invariants import SessionInvariantError
from pyconvex.sync.session import SyncSession
from pyconvex.sync.subscriptions import Outcome, Subscription, SubscriptionManager

__all__ = [
    "CloseAfterAuthError",
    "IntervalIndex",
    "Outcome",
    "SessionInvariantError",
    "Subscription",
    "SubscriptionManager",
    "SyncSession",
    "VerifyToken",
    "format_function_error",
    "new_request_id",
]
