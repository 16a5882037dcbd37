"""Validators inferred from a handler's annotations, for ``@query`` without ``args=``.

``async def f(ctx, channelId: Id["channels"], limit: int | None = None)`` infers
``{"channelId": v.id("channels"), "limit": v.optional(v.union(v.int64(), v.null()))}``.
Python ``float`` is a Convex number (ints accepted); ``int`` is int64.
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from pyconvex.schema.validators import ObjectValidator, Validator, v
from pyconvex.values import Id, IdTable

_SIMPLE: dict[Any, Any] = {
    str: v.string,
    float: v.number,
    int: v.int64,
    bool: v.boolean,
    bytes: v.bytes,
    type(None): v.null,
    None: v.null,
    Any: v.any,
    Id: v.string,
    dict: v.any,
    list: lambda: v.array(v.any()),
}


def validator_from_annotation(ann: Any, where: str = "annotation") -> Validator:
    if ann in _SIMPLE:
        return _SIMPLE[ann]()  # type: ignore[no-any-return]
    origin = get_origin(ann)
    args = get_args(ann)
    if origin is typing.Annotated:
        for extra in args[1:]:
            if isinstance(extra, IdTable):
                return v.id(extra.table)
        return validator_from_annotation(args[0], where)
    if origin in (Union, types.UnionType):
        return v.union(*(validator_from_annotation(a, where) for a in args))
    if origin is Literal:
        if len(args) == 1:
            return v.literal(args[0])
        return v.union(*(v.literal(a) for a in args))
    if origin is list:
        return v.array(validator_from_annotation(args[0], where) if args else v.any())
    if origin is dict:
        if args and args[0] is not str:
            raise TypeError(f"{where}: dict keys must be str, got {args[0]!r}")
        return v.record(v.string(), validator_from_annotation(args[1], where) if args else v.any())
    if isinstance(ann, type) and typing.is_typeddict(ann):
        hints = get_type_hints(ann, include_extras=True)
        required = getattr(ann, "__required_keys__", frozenset(hints))
        fields: dict[str, Validator] = {}
        for name, hint in hints.items():
            inner = validator_from_annotation(hint, f"{where}.{name}")
            fields[name] = inner if name in required else v.optional(inner)
        return v.object(fields)
    raise TypeError(f"{where}: cannot infer a validator from annotation {ann!r}; pass args=")


def args_validator_from_signature(fn: Any) -> ObjectValidator | None:
    """The args validator of a handler ``(ctx, **args)``; None means "unchecked"."""
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())[1:]
    try:
        hints = get_type_hints(fn, include_extras=True)
    except Exception as e:
        raise TypeError(f"{fn.__name__}: cannot resolve annotations: {e}") from None
    fields: dict[str, Validator] = {}
    for param in params:
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            return None
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.POSITIONAL_ONLY):
            raise TypeError(
                f"{fn.__name__}: parameter {param.name!r} must be passable by keyword"
            )
        ann = hints.get(param.name, Any)
        validator = validator_from_annotation(ann, f"{fn.__name__}({param.name})")
        fields[param.name] = (
            v.optional(validator) if param.default is not inspect.Parameter.empty else validator
        )
    return v.object(fields)
