"""Decorators, references, and the runtime's guards."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pyconvex import api, internal, mutation, query, v
from pyconvex.errors import NondeterminismError
from pyconvex.functions import FunctionKind, Visibility, internal_action
from pyconvex.functions.runtime.guard import guarded_loop_factory
from pyconvex.testing import ConvexTest


@pytest.mark.one_backend  # opens no database
def test_bare_and_parametrised_decorators():
    @query
    async def a(ctx, x: str):
        return x

    @mutation(args={"x": v.number()}, returns=v.number())
    async def b(ctx, x):
        return x

    @internal_action
    async def c(ctx):
        return None

    assert a.kind is FunctionKind.QUERY and a.args is not None
    assert b.kind is FunctionKind.MUTATION and b.returns is not None
    assert c.visibility is Visibility.INTERNAL
    with pytest.raises(TypeError, match="cannot be called directly"):
        a(None, x="1")


@pytest.mark.one_backend  # opens no database
def test_sync_handler_is_refused():
    with pytest.raises(TypeError, match="async def"):

        @query
        def sync_handler(ctx):  # type: ignore[misc]
            return 1


@pytest.mark.one_backend  # opens no database
def test_references():
    assert api.messages.send.path == "messages:send"
    assert api.admin.users.remove.path == "admin/users:remove"
    assert internal.tasks.process.path == "tasks:process"
    with pytest.raises(ValueError, match="is a module"):
        _ = api.messages.path


def _write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


NET = """
import socket
from pyconvex import query, mutation, action

@query
async def q(ctx):
    socket.create_connection(("127.0.0.1", 9), timeout=0.1)

@mutation
async def m(ctx):
    socket.getaddrinfo("example.com", 80)

@action
async def a(ctx):
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=0.1)
    except OSError:
        return "network reached"
    return "connected"

@query
async def t(ctx):
    return ctx.now()
"""


async def test_network_io_refused_in_queries_and_mutations(tmp_path: Path):
    root = tmp_path / "convex"
    _write(root, "net.py", NET)
    async with ConvexTest(root) as t:
        with pytest.raises(NondeterminismError, match="net:q: network I/O"):
            await t.query("net:q", {})
        with pytest.raises(NondeterminismError, match="net:m"):
            await t.mutation("net:m", {})
        assert await t.action("net:a", {}) in ("network reached", "connected")
        before = await t.query("net:t", {})
        await t.advance_time(60_000)
        after = await t.query("net:t", {})
        assert after - before >= 60_000


async def test_annotation_inference(tmp_path: Path):
    root = tmp_path / "convex"
    _write(
        root,
        "inf.py",
        "from __future__ import annotations\n"
        "from pyconvex import query, Id\n"
        "@query\n"
        "async def f(ctx, name: str, n: float, k: int | None = None, ids: list[Id['users']] | None = None):\n"
        "    return [name, n, k]\n",
    )
    from pyconvex.errors import ArgumentValidationError

    async with ConvexTest(root) as t:
        assert await t.query("inf:f", {"name": "a", "n": 2}) == ["a", 2.0, None]
        with pytest.raises(ArgumentValidationError, match=r"args\.name"):
            await t.query("inf:f", {"name": 1, "n": 2.0})


LOOP_NET = """
import asyncio
from pyconvex import query, mutation, action

@query
async def q(ctx):
    await asyncio.get_running_loop().create_connection(asyncio.Protocol, "127.0.0.1", 9)

@mutation
async def m(ctx):
    await asyncio.get_running_loop().getaddrinfo("example.com", 80)

@action
async def a(ctx):
    try:
        await asyncio.get_running_loop().create_connection(asyncio.Protocol, "127.0.0.1", 9)
    except OSError:
        return "network reached"
    return "connected"
"""


def test_network_io_refused_on_the_servers_event_loop(tmp_path: Path):
    """``serve`` runs on uvloop, which connects and resolves without Python's socket
    module: its loop must refuse the same calls."""
    root = tmp_path / "convex"
    _write(root, "net.py", LOOP_NET)

    async def scenario() -> str:
        async with ConvexTest(root) as t:
            with pytest.raises(NondeterminismError, match="net:q: network I/O"):
                await t.query("net:q", {})
            with pytest.raises(NondeterminismError, match="net:m: network I/O"):
                await t.mutation("net:m", {})
            return str(await t.action("net:a", {}))

    with asyncio.Runner(loop_factory=guarded_loop_factory()) as runner:
        assert type(runner.get_loop()).__module__ != "asyncio.unix_events"  # uvloop
        assert runner.run(scenario()) in ("network reached", "connected")
