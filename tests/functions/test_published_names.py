"""``@mutation(name="sendMessage")``: a function published under another name than its
Python attribute, so a front end written for Convex keeps ``api.messages.sendMessage``."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyconvex import api, internal, mutation, query
from pyconvex.codegen import generate
from pyconvex.functions import FunctionsLoadError, load_functions, unload
from pyconvex.testing import ConvexTest

MESSAGES = '''
from pyconvex import internal_query, mutation, query, v


@mutation(name="sendMessage", args={"body": v.string()})
async def send_message(ctx, body):
    return await ctx.db.insert("messages", {"body": body})


@query(name="listMessages")
async def list_messages(ctx):
    return [m["body"] for m in await ctx.db.query("messages").collect()]


@internal_query(name="countAll")
async def count_all(ctx):
    return len(await ctx.db.query("messages").collect())


@mutation
async def send_twice(ctx, body: str):
    await ctx.scheduler.run_after(0, send_message, {"body": body})
    await ctx.run_mutation(send_message, {"body": body})
'''


def _app(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "convex"
    root.mkdir(exist_ok=True)
    (root / "messages.py").write_text(text)
    return root


async def test_functions_are_called_by_their_published_names(tmp_path: Path) -> None:
    async with ConvexTest(_app(tmp_path, MESSAGES)) as t:
        await t.mutation(api.messages.sendMessage, {"body": "hi"})
        await t.mutation("messages:sendMessage", {"body": "there"})
        assert await t.query(api.messages.listMessages) == ["hi", "there"]
        assert await t.query(internal.messages.countAll) == 2
        # the Python attribute is not a second name
        with pytest.raises(Exception, match=r"Could not find .*messages:send_message"):
            await t.mutation("messages:send_message", {"body": "x"})
        # references to the Python object (scheduler, run_mutation) follow the published name
        await t.mutation(api.messages.send_twice, {"body": "again"})
        await t.finish_scheduled()
        assert await t.query(api.messages.listMessages) == ["hi", "there", "again", "again"]


@pytest.mark.one_backend
def test_the_registry_and_codegen_show_the_published_names(tmp_path: Path) -> None:
    root = _app(tmp_path, MESSAGES)
    registry = load_functions(root)
    try:
        assert sorted(registry.functions) == [
            "messages:countAll", "messages:listMessages", "messages:sendMessage", "messages:send_twice",
        ]
    finally:
        unload(registry)
    api_py = generate(root).files["api.py"]
    assert "sendMessage = typed_reference(" in api_py and "send_message =" not in api_py
    assert "countAll = typed_reference(" in api_py


@pytest.mark.one_backend
def test_two_functions_published_under_one_name_are_refused_at_load(tmp_path: Path) -> None:
    root = _app(tmp_path, '''
from pyconvex import mutation


@mutation(name="sendMessage")
async def send_message(ctx):
    return 1


@mutation
async def sendMessage(ctx):
    return 2
''')
    with pytest.raises(FunctionsLoadError, match=(
        r"messages\.py: two functions are published as messages:sendMessage: "
        r"send_message \(name='sendMessage'\) and sendMessage"
    )):
        load_functions(root)


@pytest.mark.one_backend
@pytest.mark.parametrize("bad", ["send-message", "1st", "", "a b", "messages:send", 5])
def test_a_name_that_is_not_an_identifier_is_refused(bad: object) -> None:
    with pytest.raises(TypeError, match=r"name= must be an identifier"):

        @mutation(name=bad)  # type: ignore[arg-type]
        async def f(ctx):  # type: ignore[no-untyped-def]
            return None


@pytest.mark.one_backend
def test_bare_and_named_decorators_keep_their_kind() -> None:
    @query(name="getIt")
    async def get_it(ctx):  # type: ignore[no-untyped-def]
        return None

    assert get_it.name == "getIt"
