"""Custom function builders through ConvexTest: ctx fields, consumed arguments,
on_success, composition, internal and action variants, and mypy on declared ctx types."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyconvex import ConvexError, mutation, query, v
from pyconvex.codegen import write_generated
from pyconvex.errors import ArgumentValidationError, NotFoundError, ReturnValueValidationError
from pyconvex.helpers import Customization, custom_ctx, custom_mutation, custom_query
from pyconvex.testing import ConvexTest
from tests.functions._secure import SECUREAPP

REPO = Path(__file__).resolve().parents[2]
TYPED = REPO / "tests" / "fixtures" / "typed_custom"


async def _setup(t: ConvexTest) -> None:
    await t.mutation("custom:setup", {"subject": "ann", "name": "Ann", "token": "tok-ann"})


async def test_custom_ctx_adds_the_user_from_an_async_helper():
    async with ConvexTest(SECUREAPP) as t:
        await _setup(t)
        ann = t.with_identity({"subject": "ann"})
        assert await ann.query("custom:whoami") == "Ann"
        assert await ann.mutation("custom:note", {"note": "hi"}) == "Ann: hi"
        with pytest.raises(ConvexError) as info:
            await t.query("custom:whoami")  # no identity: the customization refuses
        assert info.value.data == {"code": "Unauthenticated"}
        stranger = t.with_identity({"subject": "zed"})
        with pytest.raises(ConvexError) as info:
            await stranger.mutation("custom:note", {"note": "x"})
        assert info.value.data == {"code": "NoUser", "subject": "zed"}
        assert [c["fn"] for c in await t.query("custom:calls")] == ["note"]


async def test_consumed_argument_is_validated_public_and_removed_before_the_handler():
    async with ConvexTest(SECUREAPP) as t:
        await _setup(t)
        # sessionId is consumed; the handler got greeting (added) and suffix (its own)
        assert await t.query("custom:greet", {"sessionId": "tok-ann", "suffix": "!"}) == "hello Ann!"
        with pytest.raises(ArgumentValidationError, match=r"args\.sessionId"):
            await t.query("custom:greet", {"sessionId": 5, "suffix": "!"})
        with pytest.raises(ArgumentValidationError, match=r"sessionId"):
            await t.query("custom:greet", {"suffix": "!"})
        with pytest.raises(ArgumentValidationError, match=r"args\.other"):
            await t.query("custom:greet", {"sessionId": "tok-ann", "suffix": "!", "other": 1})
        with pytest.raises(ConvexError) as info:
            await t.query("custom:greet", {"sessionId": "nope", "suffix": "!"})
        assert info.value.data == {"code": "BadSession"}
        registry = t.deployment.runner.registry
        fn = registry.functions["custom:greet"]
        assert fn.args is not None and set(fn.args.fields) == {"sessionId", "suffix"}


async def test_on_success_runs_after_the_handler_in_the_same_transaction():
    async with ConvexTest(SECUREAPP) as t:
        await _setup(t)
        out = await t.mutation("custom:post", {"sessionId": "tok-ann", "text": "x"})
        assert out == {"user": "Ann", "text": "x", "greeting": "hello"}
        assert await t.query("custom:calls") == [{"fn": "session", "result": {
            "args": {"text": "x", "greeting": "hello"}, "result": out}}]
        # a failing handler: on_success does not run and the handler's write is gone
        with pytest.raises(ConvexError):
            await t.mutation("custom:post_then_fail", {"sessionId": "tok-ann", "text": "y"})
        assert [c["fn"] for c in await t.query("custom:calls")] == ["session"]


async def test_builders_compose_and_signature_inference_adds_the_customization_args():
    async with ConvexTest(SECUREAPP) as t:
        await _setup(t)
        ann = t.with_identity({"subject": "ann"})
        assert await ann.mutation("custom:both", {"sessionId": "tok-ann"}) == "Ann/Ann"
        with pytest.raises(ConvexError):  # the base customization (the user) runs too
            await t.mutation("custom:both", {"sessionId": "tok-ann"})
        assert await t.query("custom:inferred", {"tagArg": "T", "count": 3}) == "T:3:None"
        assert await t.query("custom:inferred", {"tagArg": "T", "count": 3, "label": "x"}) == "T:3:x"
        with pytest.raises(ArgumentValidationError, match=r"args\.count"):
            await t.query("custom:inferred", {"tagArg": "T", "count": "three"})


async def test_internal_variant_and_custom_action():
    async with ConvexTest(SECUREAPP) as t:
        await _setup(t)
        fn = t.deployment.runner.registry.functions["custom:internal_post"]
        assert not fn.is_public
        with pytest.raises(NotFoundError):
            await t.deployment.runner.run_mutation("custom:internal_post", {"sessionId": "tok-ann"})
        result = await t.deployment.runner.run_mutation(
            "custom:internal_post", {"sessionId": "tok-ann"}, internal_ok=True)
        assert result.value == "Ann"
        assert await t.action("custom:greet_from_action",
                              {"sessionId": "tok-ann", "suffix": "?"}) == "act:hello Ann?"


@pytest.mark.one_backend
def test_definition_errors_name_what_is_wrong():
    session = Customization(args={"sessionId": v.string()}, input=lambda ctx, args: None)
    builder = custom_query(query, session)
    with pytest.raises(TypeError, match=r"sessionId.*both"):
        @builder(args={"sessionId": v.string()})
        async def clash(ctx, sessionId): ...
    with pytest.raises(TypeError, match="async def"):
        builder(lambda ctx: None)
    with pytest.raises(TypeError, match="base builder made a query"):
        @custom_mutation(query, session)
        async def wrong_base(ctx): ...
    with pytest.raises(TypeError, match="Customization or custom_ctx"):
        custom_query(query, {"args": {}})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a validator"):
        Customization(args={"x": str}, input=lambda ctx, args: None)  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="takes a function"):
        custom_ctx({"user": 1})  # type: ignore[arg-type]
    fn = custom_mutation(mutation, session)(args={"n": v.number()})(_handler)
    assert fn.args is not None and set(fn.args.fields) == {"sessionId", "n"}


async def _handler(ctx, n):
    return n


@pytest.mark.one_backend
def test_mypy_sees_declared_ctx_fields_and_public_arguments(tmp_path: Path):
    project = tmp_path / "typed_custom"
    shutil.copytree(TYPED, project, ignore=shutil.ignore_patterns("_generated", "__pycache__"))
    write_generated(project / "backend")
    (project / "mypy.ini").write_text(
        "[mypy]\nstrict = True\nexplicit_package_bases = True\n\n"
        "[mypy-pyconvex.*]\nfollow_imports = silent\n"
    )

    def mypy() -> tuple[int, list[str]]:
        result = subprocess.run(
            [sys.executable, "-m", "mypy", "--no-incremental", "backend", "client_script.py"],
            cwd=project, capture_output=True, text=True, timeout=300,
            env={**os.environ, "MYPYPATH": str(REPO)},
        )
        return result.returncode, [ln for ln in result.stdout.splitlines() if ": error:" in ln]

    code, errors = mypy()
    assert (code, errors) == (0, [])
    notes = project / "backend" / "notes.py"
    notes.write_text(notes.read_text() + (
        "\n\n@user_query(args={})\nasync def wants_tag(ctx: TaggedQueryCtx) -> str:\n"
        "    return ctx.tag\n"
        "\n\n@user_query(args={})\nasync def misuses_user(ctx: UserQueryCtx) -> int:\n"
        "    count: int = ctx.user[\"name\"]\n    return count\n"))
    script = project / "client_script.py"
    script.write_text(script.read_text().replace('{"tag": "x", "limit": 3}', '{"tag": 5, "limit": 3}'))
    write_generated(project / "backend")
    code, errors = mypy()
    lines = notes.read_text().splitlines()
    wants_tag = 1 + next(i for i, s in enumerate(lines) if "async def wants_tag" in s) - 1
    misuse = 1 + next(i for i, s in enumerate(lines) if 'count: int = ctx.user["name"]' in s)
    assert code == 1
    # the builder gives UserQueryCtx: a handler needing TaggedQueryCtx is refused
    assert any(e.startswith(f"backend/notes.py:{wants_tag}:") and "incompatible type" in e
               for e in errors), errors
    # ctx.user is typed (UsersDoc): its "name" is a str
    assert any(e.startswith(f"backend/notes.py:{misuse}:") and '"str"' in e for e in errors), errors
    # the customization's argument is part of the public arguments at call sites
    assert any(e.startswith("client_script.py:10:") and "query" in e for e in errors), errors
    assert len(errors) == 3, errors


async def test_options_pass_to_the_base_builder():
    async with ConvexTest(SECUREAPP) as t:
        await _setup(t)
        ann = t.with_identity({"subject": "ann"})
        assert await ann.query("custom:whoAmI") == "Ann"
        with pytest.raises(ReturnValueValidationError, match="returns"):
            await ann.query("custom:bad_return")
