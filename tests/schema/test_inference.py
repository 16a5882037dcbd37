"""Validators inferred from handler annotations (string annotations included)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, Optional, TypedDict

import pytest

from pyconvex.schema import (
    ValidationFailure,
    args_validator_from_signature,
    v,
    validator_from_annotation,
)
from pyconvex.values import Id, encode_id
from tests.schema import eager_handlers

CHANNEL = encode_id(10001, bytes(16))


class Point(TypedDict):
    x: float
    y: float
    label: NotRequired[str]


class Loose(TypedDict, total=False):
    note: str


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (str, v.string()),
        (float, v.float64()),
        (int, v.int64()),
        (bool, v.boolean()),
        (bytes, v.bytes()),
        (None, v.null()),
        (type(None), v.null()),
        (Any, v.any()),
        (object, v.any()),
        (Id, v.string()),
        (Id["channels"], v.id("channels")),
        (Annotated[str, "doc"], v.string()),
        (int | None, v.union(v.int64(), v.null())),
        (Optional[str], v.union(v.string(), v.null())),  # noqa: UP045
        (str | int, v.union(v.string(), v.int64())),
        (list[str], v.array(v.string())),
        (list, v.array(v.any())),
        (list[Id["users"]], v.array(v.id("users"))),  # noqa: F821
        (dict[str, float], v.record(v.string(), v.float64())),
        (dict, v.record(v.string(), v.any())),
        (dict[Id["users"], bool], v.record(v.id("users"), v.boolean())),  # noqa: F821
        (Literal["a"], v.literal("a")),
        (Literal["a", "b"], v.union(v.literal("a"), v.literal("b"))),
        (Literal[1, True, None], v.union(v.literal(1), v.literal(True), v.null())),
        (Point, v.object({"x": v.float64(), "y": v.float64(), "label": v.optional(v.string())})),
        (Loose, v.object({"note": v.optional(v.string())})),
        (list[Point], v.array(v.object({"x": v.float64(), "y": v.float64(), "label": v.optional(v.string())}))),
    ],
)
def test_validator_from_annotation(annotation, expected):
    got = validator_from_annotation(annotation)
    assert got == expected and repr(got) == repr(expected)


@pytest.mark.parametrize("annotation", [set[int], tuple[int, int], dict[int, str], complex, Literal[1.5j]])
def test_unsupported_annotations(annotation):
    with pytest.raises(TypeError):
        validator_from_annotation(annotation)


async def handler(
    ctx,
    channelId: Id["channels"],  # noqa: F821 (a table name, not a forward reference)
    text: str,
    mode: Literal["a", "b"],
    point: Point,
    tags: list[str],
    untyped,
    limit: int | None = None,
    *,
    weight: float = 1.0,
):
    return None


def test_string_annotations_resolve_and_defaults_become_optional():
    assert isinstance(handler.__annotations__["channelId"], str)  # from __future__ annotations
    validator = args_validator_from_signature(handler)
    assert validator == v.object(
        {
            "channelId": v.id("channels"),
            "text": v.string(),
            "mode": v.union(v.literal("a"), v.literal("b")),
            "point": v.object({"x": v.float64(), "y": v.float64(), "label": v.optional(v.string())}),
            "tags": v.array(v.string()),
            "untyped": v.any(),
            "limit": v.optional(v.union(v.int64(), v.null())),
            "weight": v.optional(v.float64()),
        }
    )
    check = validator.compile()
    args = {"channelId": CHANNEL, "text": "hi", "mode": "a", "point": {"x": 1, "y": 2.5},
            "tags": [], "untyped": [1, "x"]}
    out = check(args, "args", None)
    assert out["channelId"].table == "channels" and out["point"] == {"x": 1.0, "y": 2.5}
    with pytest.raises(ValidationFailure) as info:
        check({**args, "channelId": 42}, "args", None)
    assert f"messages:send: {info.value.message}" == 'messages:send: args.channelId: expected Id("channels"), got 42'


def test_eager_annotations():
    assert args_validator_from_signature(eager_handlers.send) == v.object(
        {
            "channelId": v.id("channels"),
            "text": v.string(),
            "limit": v.optional(v.union(v.int64(), v.null())),
        }
    )
    assert args_validator_from_signature(eager_handlers.tagged) == v.object(
        {
            "tags": v.array(v.string()),
            "mode": v.union(v.literal("a"), v.literal("b")),
            "extra": v.any(),
            "bare": v.any(),
        }
    )


def test_kwargs_means_unchecked_and_ctx_only_means_no_args():
    async def loose(ctx, a: int, **kwargs):
        return None

    async def nothing(ctx):
        return None

    assert args_validator_from_signature(loose) is None
    assert args_validator_from_signature(nothing) == v.object({})


def test_errors_name_the_parameter():
    async def bad(ctx, ok: str, x: set[int]):
        return None

    with pytest.raises(TypeError, match=r"bad: parameter 'x': cannot infer a validator from annotation set\[int\]"):
        args_validator_from_signature(bad)

    async def unresolved(ctx, ok: str, y: NoSuchType):  # noqa: F821
        return None

    with pytest.raises(TypeError, match=r"unresolved: parameter 'y': cannot resolve annotation 'NoSuchType'"):
        args_validator_from_signature(unresolved)

    async def star(ctx, *rest: str):
        return None

    with pytest.raises(TypeError, match="parameter 'rest' cannot be passed by name"):
        args_validator_from_signature(star)

    async def positional(ctx, a: str, /):
        return None

    with pytest.raises(TypeError, match="parameter 'a' cannot be passed by name"):
        args_validator_from_signature(positional)

    async def no_ctx():
        return None

    with pytest.raises(TypeError, match="first parameter must be ctx"):
        args_validator_from_signature(no_ctx)
