"""``ConvexTest``: the in-process harness of docs/api.md §13."""

from __future__ import annotations

import inspect
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, overload

from pyconvex.deployment import Deployment
from pyconvex.functions import RegisteredFunction
from pyconvex.functions.runtime.request_meta import RequestOrigin, origin_scope
from pyconvex.protocol.references import FunctionReference
from pyconvex.testing.clock import VirtualClock

P = ParamSpec("P")
R = TypeVar("R")


class ConvexTest:
    """A fresh deployment for one test. Use as ``async with ConvexTest(dir) as t``."""

    def __init__(
        self,
        functions_dir: str | Path = "convex",
        *,
        identity: dict[str, Any] | None = None,
        _shared: ConvexTest | None = None,
        _origin: RequestOrigin | None = None,
    ) -> None:
        self.functions_dir = Path(functions_dir)
        self.identity = _normalize_identity(identity)
        self._origin = _origin
        self._shared = _shared
        self._tmp: str | None = None
        self._url = ""
        self._deployment: Deployment | None = None
        self.clock: VirtualClock = _shared.clock if _shared is not None else VirtualClock()

    async def __aenter__(self) -> ConvexTest:
        self._tmp = tempfile.mkdtemp(prefix="pyconvex-test-")
        url = self._url = fresh_database_url(Path(self._tmp))
        try:
            self._deployment = await Deployment.open(
                url, self.functions_dir, clock=self.clock, files=Path(self._tmp) / "files"
            )
        except BaseException:
            await _drop(url)
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._deployment is not None:
            await self._deployment.close()
            self._deployment = None
            await _drop(self._url)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    @property
    def deployment(self) -> Deployment:
        owner = self._shared or self
        if owner._deployment is None:
            raise RuntimeError("use ConvexTest as 'async with ConvexTest(...) as t'")
        return owner._deployment

    def with_identity(self, identity: dict[str, Any]) -> ConvexTest:
        """A view of the same deployment whose calls are made as ``identity``."""
        return ConvexTest(self.functions_dir, identity=identity, _shared=self._shared or self,
                          _origin=self._origin)

    def with_request(self, *, ip: str | None = None, user_agent: str | None = None) -> ConvexTest:
        """A view whose calls come from a client at ``ip`` with ``user_agent``: what
        ``ctx.meta.get_request_metadata()`` tells mutations and actions (and what
        pyconvex.auth's per-address rate limit is keyed by)."""
        return ConvexTest(self.functions_dir, identity=self.identity, _shared=self._shared or self,
                          _origin=RequestOrigin(ip=ip, user_agent=user_agent))

    # Called with a generated reference (``api.messages.send``, ``internal.tasks.run``)
    # the arguments and the result are typed from the function, as with the clients.
    @overload
    async def query(self, ref: FunctionReference[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R: ...
    @overload
    async def query(self, ref: str | RegisteredFunction, args: dict[str, Any] | None = None) -> Any: ...
    async def query(self, ref: Any, args: Any = None) -> Any:  # type: ignore[misc]
        """Run a query, public or internal (as ``convex-test`` allows), as this test's
        identity."""
        result = await self.deployment.runner.run_query(ref, args or {}, self.identity, internal_ok=True)
        return result.value

    @overload
    async def mutation(self, ref: FunctionReference[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R: ...
    @overload
    async def mutation(self, ref: str | RegisteredFunction, args: dict[str, Any] | None = None) -> Any: ...
    async def mutation(self, ref: Any, args: Any = None) -> Any:  # type: ignore[misc]
        """Run a mutation, public or internal, as this test's identity."""
        with origin_scope(self._origin):
            result = await self.deployment.runner.run_mutation(
                ref, args or {}, self.identity, internal_ok=True
            )
        return result.value

    @overload
    async def action(self, ref: FunctionReference[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R: ...
    @overload
    async def action(self, ref: str | RegisteredFunction, args: dict[str, Any] | None = None) -> Any: ...
    async def action(self, ref: Any, args: Any = None) -> Any:  # type: ignore[misc]
        """Run an action, public or internal, as this test's identity."""
        with origin_scope(self._origin):
            result = await self.deployment.runner.run_action(ref, args or {}, self.identity, internal_ok=True)
        return result.value

    async def run(self, fn: Callable[[Any], Any]) -> Any:
        """Run ``fn(ctx)`` inside a mutation (its return value may be awaitable)."""

        async def body(ctx: Any, _txn: Any) -> Any:
            out = fn(ctx)
            return await out if inspect.isawaitable(out) else out

        result = await self.deployment.runner.run_in_transaction(body, "ConvexTest.run", self.identity)
        return result.value

    async def advance_time(self, ms: float) -> None:
        """Move the virtual clock forward by ``ms`` milliseconds.

        Then everything that became due runs, as the server would: crons fire, and
        scheduled functions run (including ones scheduled by what just ran, if due).
        """
        self.clock.advance(ms)
        await self.finish_scheduled()

    async def finish_scheduled(self) -> int:
        """Run scheduled functions and crons due at the virtual clock's now; returns how many."""
        owner = self._shared or self
        assert owner._deployment is not None, "use ConvexTest inside 'async with'"
        return await owner._deployment.scheduler.run_until_idle()


def _normalize_identity(identity: dict[str, Any] | None) -> dict[str, Any] | None:
    if identity is None:
        return None
    out = dict(identity)
    out.setdefault("issuer", "https://convex.test")
    out.setdefault("subject", out.get("subject") or "test-subject")
    out.setdefault("tokenIdentifier", f"{out['issuer']}|{out['subject']}")
    return out


DATABASE_URL_ENV = "PYCONVEX_TEST_DATABASE_URL"


def fresh_database_url(directory: Path) -> str:
    """A new, empty database for one ``ConvexTest``: SQLite in ``directory``, or, when
    ``PYCONVEX_TEST_DATABASE_URL`` names a PostgreSQL server, a fresh schema there
    (dropped when the test ends)."""
    base = os.environ.get(DATABASE_URL_ENV, "")
    if base.startswith(("postgres://", "postgresql://")):
        schema = "pyconvex_test_" + secrets.token_hex(8)
        return f"{base}{'&' if '?' in base else '?'}schema={schema}"
    return f"sqlite:///{directory / 'db.sqlite3'}"


async def _drop(url: str) -> None:
    if url.startswith(("postgres://", "postgresql://")):
        from pyconvex.persistence.postgres import drop_schema

        await drop_schema(url)
