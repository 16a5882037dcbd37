"""The sync engine: live subscriptions and per-connection sessions."""

from pyconvex.sync.errors import format_function_error, new_request_id
from pyconvex.sync.session import CloseAfterAuthError, SyncSession, VerifyToken
from pyconvex.sync.subscriptions import IntervalIndex, Subscription, SubscriptionManager

__all__ = [
    "CloseAfterAuthError",
    "IntervalIndex",
    "Subscription",
    "SubscriptionManager",
    "SyncSession",
    "VerifyToken",
    "format_function_error",
    "new_request_id",
]
