"""What the ``ctx`` objects need from the function runner, as a protocol.

The ctx objects (``ctx_impl``, ``scheduling``, ``storage``) call back into the runner
(an action's ``ctx.run_query``, a nested call's validation, a storage write's own
transaction), and the runner builds the ctx objects: naming the runner's class here
would make the four modules import each other in a circle. They name this protocol
instead; :class:`~pyconvex.functions.runtime.executor.FunctionRunner` satisfies it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pyconvex.database import Database, ReadSet, Transaction
from pyconvex.functions.registration import FunctionKind, RegisteredFunction
from pyconvex.functions.registry import Registry
from pyconvex.functions.runtime.services import StorageService


@dataclass(slots=True)
class FunctionResult:
    value: Any
    log_lines: list[str] = field(default_factory=list)
    ts: int | None = None
    """Snapshot timestamp (queries) or commit timestamp (mutations)."""
    reads: ReadSet | None = None
    """What a query read (for subscriptions)."""
    journal: str | None = None
    """The query journal this run produced (where its page ended; see
    ``database/query/pagination.py``): pass it to the next run of the same subscription."""


class Runner(Protocol):
    db: Database
    registry: Registry
    storage: StorageService
    clock: Callable[[], float]

    def resolve(self, ref: Any, kind: FunctionKind, internal_ok: bool) -> RegisteredFunction: ...

    def check_args(
        self, fn: RegisteredFunction, args: Any, txn: Transaction | None
    ) -> dict[str, Any]: ...

    def check_returns(self, fn: RegisteredFunction, value: Any, txn: Transaction | None) -> Any: ...

    async def run_query(
        self, ref: Any, args: Any = None, identity: dict[str, Any] | None = None, *,
        internal_ok: bool = False, ts: int | None = None, journal: str | None = None,
    ) -> FunctionResult: ...

    async def run_mutation(
        self, ref: Any, args: Any = None, identity: dict[str, Any] | None = None, *,
        internal_ok: bool = False,
    ) -> FunctionResult: ...

    async def run_action(
        self, ref: Any, args: Any = None, identity: dict[str, Any] | None = None, *,
        internal_ok: bool = False,
    ) -> FunctionResult: ...

    async def run_in_transaction(
        self, body: Callable[[Any, Transaction], Awaitable[Any]], name: str,
        identity: dict[str, Any] | None = None,
    ) -> FunctionResult: ...
