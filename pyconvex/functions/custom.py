"""Custom function builders: ``custom_query``, ``custom_mutation``, ``custom_action``.

A builder wraps a base builder (``query``, ``internal_query``, another custom builder,
...) with a :class:`Customization`, so that every function made with it runs the same
preamble: look up the user, wrap ``ctx.db`` with row-level security, start triggers.

Contract (convex-helpers' ``customFunctions`` semantics):

- A customization may declare extra arguments (``args=``). They are part of the
  function's public arguments (validated like any argument, listed by codegen, sent
  by clients) and are *consumed*: ``input`` receives them, the handler does not.
- ``input(ctx, consumed_args)`` returns ``{"ctx": {...}, "args": {...},
  "on_success": fn}`` (every key optional, the whole result may be awaited).
  ``ctx`` fields are added to or replace fields of the handler's ``ctx``; ``args``
  are added to the handler's arguments; ``on_success(ctx=, args=, result=)`` runs
  after the handler returned, inside the same transaction for queries and mutations.
- ``custom_ctx(fn)`` is the common case: ``fn(ctx)`` returns the ctx fields; values
  that are awaitables are awaited, so ``lambda ctx: {"user": require_user(ctx)}``
  works with an ``async`` ``require_user``.
- The result is an ordinary registered function: ``ConvexTest``, clients, codegen and
  the scheduler see no difference.

Typing. The builder is generic in the ctx type its handlers receive. Python cannot
derive an attribute type from a dict key, so the ctx type is declared once, where the
builder is made, and the type checker holds every handler to it::

    class UserQueryCtx(QueryCtx, Protocol):
        user: dict[str, Any]

    user_query: CustomBuilder[UserQueryCtx] = custom_query(query, custom_ctx(add_user))

    @user_query
    async def mine(ctx: UserQueryCtx) -> list[dict[str, Any]]: ...   # ctx.user is typed
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypedDict, TypeVar, overload

from pyconvex.errors import ArgumentValidationError
from pyconvex.functions.registration import FunctionKind, RegisteredFunction
from pyconvex.schema import (
    ObjectValidator,
    ValidationFailure,
    Validator,
    args_validator_from_signature,
    v,
)

__all__ = [
    "CustomBuilder",
    "CustomCtx",
    "CustomInput",
    "Customization",
    "custom_action",
    "custom_ctx",
    "custom_mutation",
    "custom_query",
]

CtxIn = TypeVar("CtxIn")
CtxOut = TypeVar("CtxOut")
CtxCo = TypeVar("CtxCo", covariant=True)
P = ParamSpec("P")
R = TypeVar("R")


class CustomInput(TypedDict, total=False):
    """What a customization's ``input`` returns; every key is optional."""

    ctx: Mapping[str, Any]
    """Fields added to (or replacing fields of) the handler's ``ctx``."""
    args: Mapping[str, Any]
    """Arguments added to the handler's arguments."""
    on_success: Callable[..., Any]
    """Called as ``on_success(ctx=..., args=..., result=...)`` after the handler."""


InputResult = CustomInput | Mapping[str, Any] | None


@dataclass(frozen=True)
class Customization(Generic[CtxIn, CtxOut]):
    """Extra arguments to consume and the ``input`` that turns them into ctx and args.

    >>> session = Customization(
    ...     args={"sessionId": v.string()},
    ...     input=lambda ctx, args: {"ctx": {"session": load(ctx, args["sessionId"])}},
    ... )

    ``CtxOut`` is only a typing marker: the ctx type handlers of builders made with
    this customization receive.
    """

    input: Callable[[CtxIn, dict[str, Any]], InputResult | Awaitable[InputResult]]
    args: Mapping[str, Validator] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not callable(self.input):
            raise TypeError(f"Customization(input=...) must be callable, got {self.input!r}")
        if not isinstance(self.args, Mapping):
            raise TypeError(
                f"Customization(args=...) must be a dict of validators, got {self.args!r}"
            )
        for name, validator in self.args.items():
            if not isinstance(validator, Validator):
                raise TypeError(
                    f"Customization(args=...): {name!r} must be a validator (v.string(), ...), "
                    f"got {validator!r}"
                )


def custom_ctx(
    fn: Callable[[CtxIn], Mapping[str, Any] | Awaitable[Mapping[str, Any]]],
) -> Customization[CtxIn, Any]:
    """A customization that only adds or replaces ctx fields: ``fn(ctx) -> {field: value}``.

    >>> user_query = custom_query(query, custom_ctx(lambda ctx: {"user": require_user(ctx)}))

    ``fn`` may be ``async``, and awaitable values in the returned dict are awaited (in
    order), so the lambda form works with async helpers.
    """
    if not callable(fn):
        raise TypeError(f"custom_ctx() takes a function ctx -> dict, got {fn!r}")

    async def input(ctx: CtxIn, _args: dict[str, Any]) -> CustomInput:
        fields = fn(ctx)
        if inspect.isawaitable(fields):
            fields = await fields
        if not isinstance(fields, Mapping):
            raise TypeError(
                f"custom_ctx({_name(fn)}) must return a dict of ctx fields, "
                f"got {type(fields).__name__}"
            )
        return {"ctx": fields}

    return Customization(input=input)


class CustomCtx:
    """The ctx a customized handler receives: the original ctx plus the added fields.

    Added fields are plain attributes; anything else (``db``, ``auth``, ``now()``,
    ``run_query``...) is the original ctx's, looked up on first use.
    """

    def __init__(self, base: Any, fields: Mapping[str, Any]) -> None:
        self.__dict__["_base"] = base
        for name, value in fields.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise TypeError(f"custom ctx field names must be identifiers, got {name!r}")
            self.__dict__[name] = value

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_base"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        self.__dict__[name] = value

    def __repr__(self) -> str:
        added = ", ".join(k for k in self.__dict__ if k != "_base")
        return f"CustomCtx({self.__dict__['_base']!r}, added: {added or '-'})"


class _Decorate(Protocol[CtxCo]):
    def __call__(
        self, fn: Callable[Concatenate[CtxCo, P], Awaitable[R]], /
    ) -> RegisteredFunction: ...


class CustomBuilder(Generic[CtxOut]):
    """A function builder made by :func:`custom_query` and friends; use like ``@query``.

    Bare (``@user_query``) or with options (``@user_query(args={...}, returns=...)``);
    other keyword options (``name=``) go to the base builder unchanged.
    """

    def __init__(
        self, base: Any, customization: Customization[Any, Any], kind: FunctionKind
    ) -> None:
        if not callable(base):
            raise TypeError(
                f"custom_{kind.value}() takes a base builder ({kind.value}, "
                f"internal_{kind.value}, or a custom builder) first, got {base!r}"
            )
        if not isinstance(customization, Customization):
            raise TypeError(
                f"custom_{kind.value}(): the second argument must be a Customization or "
                f"custom_ctx(...), got {customization!r}"
            )
        self.base = base
        self.customization = customization
        self.kind = kind
        self._own_check = (
            v.object(dict(customization.args)).compile() if customization.args else None
        )

    @overload
    def __call__(
        self, fn: Callable[Concatenate[CtxOut, P], Awaitable[R]], /
    ) -> RegisteredFunction: ...

    @overload
    def __call__(
        self, *, args: Any = None, returns: Validator | None = None, **options: Any
    ) -> _Decorate[CtxOut]: ...

    def __call__(
        self, *fn: Any, args: Any = None, returns: Any = None, **options: Any
    ) -> Any:
        def wrap(handler: Callable[..., Awaitable[Any]]) -> RegisteredFunction:
            return self._build(handler, args, returns, options)

        if len(fn) > 1:
            raise TypeError("a custom builder takes one handler; options go by keyword")
        if fn:
            return wrap(fn[0])
        return wrap

    # ------------------------------------------------------------------ building
    def _handler_fields(self, handler: Callable[..., Any], args: Any) -> dict[str, Validator] | None:
        """The handler's own argument validators (None: unchecked)."""
        if args is None:
            inferred = args_validator_from_signature(handler)
            if inferred is None:
                return None
            args = inferred
        if isinstance(args, Mapping):
            return dict(args)
        if isinstance(args, ObjectValidator):
            return dict(args.fields)
        raise TypeError(
            f"{_name(handler)}: args= must be a dict of validators or v.object(...), "
            f"got {type(args).__name__}"
        )

    def _build(
        self,
        handler: Callable[..., Awaitable[Any]],
        args: Any,
        returns: Validator | None,
        options: dict[str, Any],
    ) -> RegisteredFunction:
        if not inspect.iscoroutinefunction(handler):
            raise TypeError(
                f"{_name(handler)}: {self.kind.value} handlers must be 'async def "
                f"{_name(handler)}(ctx, ...)'"
            )
        own = dict(self.customization.args)
        fields = self._handler_fields(handler, args)
        if fields is not None:
            both = sorted(set(fields) & set(own))
            if both:
                raise TypeError(
                    f"{_name(handler)}: argument(s) {', '.join(both)} are declared by both "
                    "the customization (which consumes them) and the handler; rename one, "
                    "or have the customization pass them on through its 'args'."
                )
            public: dict[str, Validator] | None = {**own, **fields}
        else:
            public = None  # the handler takes unchecked arguments
        wrapper = self._wrapper(handler, own, public is None)
        fn = self.base(args=public, returns=returns, **options)(wrapper)
        if not isinstance(fn, RegisteredFunction) or fn.kind is not self.kind:
            got = fn.kind.value if isinstance(fn, RegisteredFunction) else type(fn).__name__
            raise TypeError(
                f"custom_{self.kind.value}(): the base builder made a {got}; pass "
                f"{self.kind.value} or internal_{self.kind.value}"
            )
        return fn

    def _wrapper(
        self, handler: Callable[..., Awaitable[Any]], own: dict[str, Validator], unchecked: bool
    ) -> Callable[..., Awaitable[Any]]:
        customization = self.customization
        own_names = tuple(own)
        own_check = self._own_check if unchecked else None
        name = _name(handler)

        async def wrapper(ctx: Any, **all_args: Any) -> Any:
            consumed = {k: all_args.pop(k) for k in own_names if k in all_args}
            if own_check is not None:
                try:
                    consumed = own_check(consumed, "args", None)  # type: ignore[assignment]
                except ValidationFailure as e:
                    raise ArgumentValidationError(f"{name}: {e.message}") from None
            result = customization.input(ctx, consumed)
            if inspect.isawaitable(result):
                result = await result
            added_ctx, added_args, on_success = _parse_input(result, name)
            if added_ctx:
                ctx = CustomCtx(ctx, await _resolve(added_ctx))
            handler_args = {**all_args, **added_args} if added_args else all_args
            value = await handler(ctx, **handler_args)
            if on_success is not None:
                done = on_success(ctx=ctx, args=handler_args, result=value)
                if inspect.isawaitable(done):
                    await done
            return value

        # The loader registers a function under the module that defined the handler.
        wrapper.__module__ = handler.__module__
        wrapper.__name__ = getattr(handler, "__name__", "handler")
        wrapper.__qualname__ = getattr(handler, "__qualname__", wrapper.__name__)
        wrapper.__doc__ = handler.__doc__
        return wrapper


def _parse_input(
    result: Any, name: str
) -> tuple[Mapping[str, Any], Mapping[str, Any], Callable[..., Any] | None]:
    if result is None:
        return {}, {}, None
    if not isinstance(result, Mapping):
        raise TypeError(
            f"{name}: a customization's input must return a dict with 'ctx', 'args' and/or "
            f"'on_success', got {type(result).__name__}"
        )
    unknown = set(result) - {"ctx", "args", "on_success"}
    if unknown:
        raise TypeError(
            f"{name}: a customization's input returned unknown key(s) "
            f"{', '.join(sorted(map(str, unknown)))}; expected 'ctx', 'args', 'on_success'"
        )
    ctx = result.get("ctx") or {}
    args = result.get("args") or {}
    on_success = result.get("on_success")
    if not isinstance(ctx, Mapping) or not isinstance(args, Mapping):
        raise TypeError(f"{name}: a customization's 'ctx' and 'args' must be dicts")
    if on_success is not None and not callable(on_success):
        raise TypeError(f"{name}: a customization's 'on_success' must be callable")
    return ctx, args, on_success


async def _resolve(fields: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        out[key] = await value if inspect.isawaitable(value) else value
    return out


def _name(fn: Any) -> str:
    return str(getattr(fn, "__name__", None) or repr(fn))


def custom_query(
    base: Any, customization: Customization[Any, CtxOut]
) -> CustomBuilder[CtxOut]:
    """A query builder running ``customization`` before each handler.

    >>> user_query = custom_query(query, custom_ctx(lambda ctx: {"user": require_user(ctx)}))
    >>> @user_query(args={"channelId": v.id("channels")})
    ... async def mine(ctx, channelId): ...   # ctx.user is set

    ``base`` is ``query``, ``internal_query`` (for internal functions) or another
    custom query builder: customizations compose, the base's running first.
    """
    return CustomBuilder(base, customization, FunctionKind.QUERY)


def custom_mutation(
    base: Any, customization: Customization[Any, CtxOut]
) -> CustomBuilder[CtxOut]:
    """A mutation builder running ``customization`` before each handler, in the
    mutation's transaction: what it reads and writes commits (or not) with the handler's
    writes. ``base`` is ``mutation``, ``internal_mutation`` or a custom mutation builder."""
    return CustomBuilder(base, customization, FunctionKind.MUTATION)


def custom_action(
    base: Any, customization: Customization[Any, CtxOut]
) -> CustomBuilder[CtxOut]:
    """An action builder running ``customization`` before each handler. ``base`` is
    ``action``, ``internal_action`` or a custom action builder."""
    return CustomBuilder(base, customization, FunctionKind.ACTION)
