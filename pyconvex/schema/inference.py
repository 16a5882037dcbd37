"""Validators inferred from Python annotations, for ``@query`` etc. without ``args=``.

Contract. ``args_validator_from_signature(handler)`` reads ``handler(ctx, ...)``: the
first parameter (ctx) is skipped, every other one becomes a field of a ``v.object``,
optional when it has a default. ``**kwargs`` anywhere means "unchecked" (None).
``*args`` and positional-only parameters are refused, since arguments arrive by name.
String annotations (``from __future__ import annotations``) are resolved with
``typing.get_type_hints(fn, include_extras=True)``.

Annotation -> validator (``validator_from_annotation``):

=====================================  ==============================================
``str`` ``float`` ``int`` ``bool``     ``v.string()`` ``v.float64()`` ``v.int64()``
``bytes`` ``None``                     ``v.boolean()`` ``v.bytes()`` ``v.null()``
``X | None``, ``Optional[X]``          ``v.union(X, v.null())``
``list[X]`` / ``list``                 ``v.array(X)`` / ``v.array(v.any())``
``dict[str, X]`` / ``dict``            ``v.record(v.string(), X)`` / ``...v.any()``
``dict[Id["t"], X]``                   ``v.record(v.id("t"), X)``
``Literal["a", "b"]``                  ``v.union(v.literal("a"), v.literal("b"))``
``Id["t"]`` / bare ``Id``              ``v.id("t")`` / ``v.string()``
a ``TypedDict``                        ``v.object`` (``NotRequired`` -> optional)
``Any``, ``object``, no annotation     ``v.any()``
``Annotated[X, ...]``                  X
=====================================  ==============================================

Python ``float`` is Convex's float64 ("number", ints accepted) and ``int`` is int64,
which is how the Python values map. Anything else is a ``TypeError`` naming the
parameter, so a typo fails when the module is imported, not on the first call.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, NotRequired, Required, Union, get_args, get_origin, get_type_hints

from pyconvex.schema.base import Validator
from pyconvex.schema.scalars import IdValidator, StringValidator
from pyconvex.schema.validators import ObjectValidator, v
from pyconvex.values.types import Id, IdTable

_SIMPLE: dict[Any, Callable[[], Validator]] = {
    str: v.string,
    float: v.float64,
    int: v.int64,
    bool: v.boolean,
    bytes: v.bytes,
    type(None): v.null,
    None: v.null,
    Any: v.any,
    object: v.any,
    Id: v.string,
    list: lambda: v.array(v.any()),
    dict: lambda: v.record(v.string(), v.any()),
}


class _Unsupported(TypeError):
    pass


def validator_from_annotation(ann: Any) -> Validator:
    """The validator for one annotation (see the module docstring for the table)."""
    try:
        return _infer(ann)
    except _Unsupported as e:
        raise TypeError(str(e)) from None


def _infer(ann: Any) -> Validator:
    try:
        simple = _SIMPLE.get(ann)
    except TypeError:  # unhashable annotation objects
        simple = None
    if simple is not None:
        return simple()
    origin = get_origin(ann)
    args = get_args(ann)
    if origin is typing.Annotated:
        for extra in args[1:]:
            if isinstance(extra, IdTable):
                return v.id(extra.table)
        return _infer(args[0])
    if origin is Union or origin is types.UnionType:
        return v.union(*(_infer(a) for a in args))
    if origin is Literal:
        literals = [_literal(a) for a in args]
        return literals[0] if len(literals) == 1 else v.union(*literals)
    if origin is list:
        return v.array(_infer(args[0]) if args else v.any())
    if origin is dict:
        key = _infer(args[0]) if args else v.string()
        if not isinstance(key, (StringValidator, IdValidator)):
            raise _Unsupported(f"dict keys must be str or Id[...], got {args[0]!r}")
        return v.record(key, _infer(args[1]) if args else v.any())
    if isinstance(ann, type) and typing.is_typeddict(ann):
        return _typeddict(ann)
    raise _Unsupported(f"cannot infer a validator from annotation {ann!r}")


def _literal(value: Any) -> Validator:
    if value is None:
        return v.null()
    try:
        return v.literal(value)
    except (TypeError, ValueError) as e:
        raise _Unsupported(str(e)) from None


def _typeddict(cls: type) -> ObjectValidator:
    hints = get_type_hints(cls, include_extras=True)
    required_keys = getattr(cls, "__required_keys__", frozenset(hints))
    fields: dict[str, Validator] = {}
    for name, hint in hints.items():
        required = name in required_keys
        origin = get_origin(hint)
        if origin is NotRequired or origin is Required:
            # Under `from __future__ import annotations` __required_keys__ cannot see
            # these markers (3.11), so the resolved hint decides.
            required = origin is Required
            (hint,) = get_args(hint)
        try:
            inner = _infer(hint)
        except _Unsupported as e:
            raise _Unsupported(f"field {name!r} of {cls.__name__}: {e}") from None
        fields[name] = inner if required else v.optional(inner)
    return v.object(fields)


def args_validator_from_signature(fn: Callable[..., Any]) -> ObjectValidator | None:
    """The args validator of ``handler(ctx, ...)``; None means "unchecked" (``**kwargs``)."""
    name: str = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    params = list(inspect.signature(fn).parameters.values())
    if not params or params[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        raise TypeError(f"{name}: a handler's first parameter must be ctx")
    params = params[1:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    hints = _resolve_hints(fn, name, params)
    fields: dict[str, Validator] = {}
    for param in params:
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.POSITIONAL_ONLY):
            raise TypeError(
                f"{name}: parameter {param.name!r} cannot be passed by name; arguments "
                "arrive as a dict, so use a normal or keyword-only parameter"
            )
        try:
            validator = _infer(hints.get(param.name, Any))
        except _Unsupported as e:
            raise TypeError(
                f"{name}: parameter {param.name!r}: {e}; use a supported type "
                "(str, float, int, bool, bytes, None, list[...], dict[str, ...], "
                'Literal[...], Id["table"], a TypedDict) or pass args= explicitly'
            ) from None
        has_default = param.default is not inspect.Parameter.empty
        fields[param.name] = v.optional(validator) if has_default else validator
    return v.object(fields)


def _resolve_hints(
    fn: Callable[..., Any], name: str, params: list[inspect.Parameter]
) -> dict[str, Any]:
    try:
        return get_type_hints(fn, include_extras=True)
    except Exception as e:
        # Find the parameter whose annotation does not resolve, to name it.
        globalns = getattr(fn, "__globals__", {})
        for param in params:
            if isinstance(param.annotation, str):
                try:
                    eval(param.annotation, globalns)
                except Exception:
                    raise TypeError(
                        f"{name}: parameter {param.name!r}: cannot resolve annotation "
                        f"{param.annotation!r} ({type(e).__name__}: {e})"
                    ) from None
        raise TypeError(f"{name}: cannot resolve annotations ({type(e).__name__}: {e})") from None


def check_handler_accepts(fn: Callable[..., Any], args: Validator) -> None:
    """Refuse, when the module loads, a handler that ``args=`` could not call.

    Handlers are called as ``handler(ctx, **args)``: every field of ``args=`` must be a
    parameter (or land in ``**kwargs``), and every parameter without a default must be a
    required field. Otherwise the mismatch would surface only at the first call, as a
    bare "Server Error". Validators other than ``v.object`` are not checked.
    """
    if not isinstance(args, ObjectValidator):
        return
    name: str = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    params = list(inspect.signature(fn).parameters.values())[1:]  # after ctx
    by_name = {
        p.name: p for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    call = f"{name}(ctx, **args)"
    for field_name in args.fields:
        if field_name not in by_name and not takes_any:
            raise TypeError(
                f"{name}: args= declares {field_name!r} but the handler has no parameter "
                f"{field_name!r}; handlers are called as {call}, so add the parameter "
                "(or **kwargs) or remove the field"
            )
    for param in by_name.values():
        if param.default is not inspect.Parameter.empty:
            continue
        field = args.fields.get(param.name)
        if field is None:
            raise TypeError(
                f"{name}: parameter {param.name!r} is not in args= and has no default; "
                f"handlers are called as {call}, so declare it in args= or give it a default"
            )
        if field.is_optional:
            raise TypeError(
                f"{name}: args= makes {param.name!r} optional (v.optional) but the parameter "
                f"has no default; give it one (e.g. {param.name}=None)"
            )
