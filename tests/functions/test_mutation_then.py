"""``FunctionRunner.run_mutation_then``: a mutation whose caller writes beside it (a sync
session's exactly-once record, ``sync/requests.py``). ``then`` runs once per attempt, in
the attempt's transaction, after the handler returned (whether it returned in its first
step or suspended first) and before the commit; a handler that fails, or a ``then`` that
fails, commits nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pyconvex.database import Transaction
from pyconvex.errors import ConvexError
from pyconvex.functions.registration import FunctionKind
from pyconvex.testing import ConvexTest

SOURCE = '''
import asyncio
import socket

from pyconvex import ConvexError, api, mutation, query, v
from pyconvex.errors import NondeterminismError


@mutation(args={"body": v.string(), "wait": v.boolean()})
async def post(ctx, body, wait):
    if wait:
        await asyncio.sleep(0)  # suspends: the rest of the handler runs in later steps
    print("posting", body)
    if body == "refused":
        raise ConvexError("refused")
    return await ctx.db.insert("posts", {"body": body})


@mutation(args={"wait": v.boolean()})
async def identify(ctx, wait):
    if wait:
        await asyncio.sleep(0)
    meta = await ctx.meta.get_request_metadata()
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=0.1)
        refused = ""
    except NondeterminismError as e:
        refused = str(e)
    return {"requestId": meta["requestId"], "refused": refused}


@mutation(args={"wait": v.boolean()})
async def nest(ctx, wait):
    """The caller's request id, and the one a nested call sees."""
    meta = await ctx.meta.get_request_metadata()
    inner = await ctx.run_mutation(api.posts.identify, {"wait": wait})
    return {"outer": meta["requestId"], "inner": inner["requestId"]}


@query
async def count(ctx):
    return len(await ctx.db.query("posts").collect())
'''


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "convex").mkdir()
    (tmp_path / "convex" / "posts.py").write_text(SOURCE)
    return tmp_path / "convex"


@pytest.mark.parametrize("wait", [False, True])
async def test_then_runs_in_the_transaction_after_the_handler(app: Path, wait: bool) -> None:
    async with ConvexTest(app) as t:
        runner, db = t.deployment.runner, t.deployment.db
        fn = runner.resolve("posts:post", FunctionKind.MUTATION, False)
        seen: list[tuple[Any, list[str], int]] = []

        def then(txn: Transaction, value: Any, lines: list[str]) -> None:
            seen.append((value, list(lines), db.latest_ts))
            assert txn.writable

        result = await runner.run_mutation_then(fn, {"body": "hi", "wait": wait}, None, then)
        [(value, lines, head)] = seen
        assert value == result.value and lines == result.log_lines == ["[LOG] 'posting' 'hi'"]
        assert head < result.ts  # before the commit
        assert await t.query("posts:count", {}) == 1


@pytest.mark.parametrize("wait", [False, True])
async def test_a_failed_handler_never_reaches_then(app: Path, wait: bool) -> None:
    async with ConvexTest(app) as t:
        runner = t.deployment.runner
        fn = runner.resolve("posts:post", FunctionKind.MUTATION, False)
        seen: list[Any] = []
        with pytest.raises(ConvexError):
            await runner.run_mutation_then(
                fn, {"body": "refused", "wait": wait}, None, lambda *a: seen.append(a))
        assert seen == [] and await t.query("posts:count", {}) == 0


@pytest.mark.parametrize("wait", [False, True])
async def test_a_failed_then_commits_nothing(app: Path, wait: bool) -> None:
    async with ConvexTest(app) as t:
        runner = t.deployment.runner
        fn = runner.resolve("posts:post", FunctionKind.MUTATION, False)

        def then(txn: Transaction, value: Any, lines: list[str]) -> None:
            raise RuntimeError("no room for the record")

        with pytest.raises(RuntimeError, match="no room"):
            await runner.run_mutation_then(fn, {"body": "hi", "wait": wait}, None, then)
        assert await t.query("posts:count", {}) == 0


async def _run_both_ways(t: ConvexTest, path: str, wait: bool) -> tuple[Any, Any, Any, Any]:
    """``path`` run through ``run_mutation_then`` and then as a client's call: the two
    values, and the two executions' records (each with its request id)."""
    runner = t.deployment.runner
    fn = runner.resolve(path, FunctionKind.MUTATION, False)
    records: list[Any] = []
    runner.listeners.append(records.append)
    first = await runner.run_mutation_then(fn, {"wait": wait}, None, lambda *a: None)
    second = await t.mutation(path, {"wait": wait})
    [one, two] = records
    return first.value, second, one, two


@pytest.mark.parametrize("wait", [False, True])
async def test_the_handler_sees_its_request_id_and_may_not_connect(app: Path, wait: bool) -> None:
    """The handler's own context (``execution.enter_mutation``) carries the request id and
    the I/O guard in its frozen state: ``ctx.meta`` gives the execution's request id, and
    a socket connect is refused naming the function, in the first step and after it."""
    async with ConvexTest(app) as t:
        first, second, one, two = await _run_both_ways(t, "posts:identify", wait)
        assert first["requestId"] == one.request_id
        assert second["requestId"] == two.request_id != one.request_id
        for seen in (first, second):
            assert seen["refused"].startswith("posts:identify: network I/O (")


@pytest.mark.parametrize("wait", [False, True])
async def test_a_nested_call_sees_its_callers_request_id(app: Path, wait: bool) -> None:
    """``ctx.run_mutation`` inside a mutation runs its handler in the caller's context:
    its ``ctx.meta`` gives the caller's request id, whether the nested handler returns at
    once or suspends first."""
    async with ConvexTest(app) as t:
        first, second, one, two = await _run_both_ways(t, "posts:nest", wait)
        assert first == {"outer": one.request_id, "inner": one.request_id}
        assert second == {"outer": two.request_id, "inner": two.request_id}
