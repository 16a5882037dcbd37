"""``@query``, ``@mutation``, ``@action`` and their ``internal_*`` twins.

A decorated handler becomes a :class:`RegisteredFunction`: the handler plus its kind,
visibility and validators. Validators come from ``args=``/``returns=`` when given,
otherwise from the handler's annotations (``channelId: Id["channels"]``), and are
compiled once, here, not per call.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, overload

from pyconvex.schema import Check, Validator, args_validator_from_signature, v


class FunctionKind(enum.Enum):
    QUERY = "query"
    MUTATION = "mutation"
    ACTION = "action"

    @property
    def title(self) -> str:
        return self.value.capitalize()


class Visibility(enum.Enum):
    PUBLIC = "public"
    INTERNAL = "internal"


Handler = Callable[..., Awaitable[Any]]


@dataclass(eq=False)
class RegisteredFunction:
    """A backend function. ``path`` is filled in by the loader ("messages:send")."""

    kind: FunctionKind
    visibility: Visibility
    handler: Handler
    args: Validator | None
    returns: Validator | None
    path: str | None = None
    args_check: Check | None = field(default=None, repr=False)
    returns_check: Check | None = field(default=None, repr=False)
    name: str | None = None
    """The name it is published under when not its attribute name (``auth:signIn``)."""

    def __post_init__(self) -> None:
        self.args_check = self.args.compile() if self.args is not None else None
        self.returns_check = self.returns.compile() if self.returns is not None else None

    @property
    def is_public(self) -> bool:
        return self.visibility is Visibility.PUBLIC

    def __call__(self, *_: Any, **__: Any) -> Any:
        raise TypeError(
            f"{self.kind.value} {self.path or self.handler.__name__} cannot be called "
            "directly; call it through ctx.run_query/run_mutation/run_action, a client, "
            "or pyconvex.testing.ConvexTest."
        )


F = TypeVar("F", bound=Handler)


class FunctionDecorator(Protocol):
    """``@query`` bare, or ``@query(args={...}, returns=v...)``."""

    @overload
    def __call__(self, fn: Handler, /) -> RegisteredFunction: ...

    @overload
    def __call__(
        self, *, args: Any = None, returns: Validator | None = None
    ) -> Callable[[Handler], RegisteredFunction]: ...


def _args_validator(handler: Handler, args: Any) -> Validator | None:
    if args is None:
        return args_validator_from_signature(handler)
    if isinstance(args, dict):
        return v.object(args)
    if isinstance(args, Validator):
        return args
    raise TypeError(
        f"{handler.__name__}: args= must be a dict of validators or v.object(...), "
        f"got {type(args).__name__}"
    )


def _make(kind: FunctionKind, visibility: Visibility) -> FunctionDecorator:
    @overload
    def decorator(fn: Handler, /) -> RegisteredFunction: ...

    @overload
    def decorator(
        *, args: Any = None, returns: Validator | None = None
    ) -> Callable[[Handler], RegisteredFunction]: ...

    def decorator(
        fn: Handler | None = None, /, *, args: Any = None, returns: Validator | None = None
    ) -> Any:
        def wrap(handler: Handler) -> RegisteredFunction:
            if not inspect.iscoroutinefunction(handler):
                raise TypeError(
                    f"{handler.__name__}: {kind.value} handlers must be 'async def "
                    f"{handler.__name__}(ctx, ...)'"
                )
            return RegisteredFunction(
                kind, visibility, handler, _args_validator(handler, args), returns
            )

        if fn is not None:
            return wrap(fn)
        return wrap

    decorator.__name__ = (
        kind.value if visibility is Visibility.PUBLIC else f"internal_{kind.value}"
    )
    decorator.__doc__ = (
        f"Register a {visibility.value} {kind.value}. Use bare (@{decorator.__name__}) or "
        f"with validators (@{decorator.__name__}(args={{...}}, returns=v...))."
    )
    return decorator


query: FunctionDecorator = _make(FunctionKind.QUERY, Visibility.PUBLIC)
mutation: FunctionDecorator = _make(FunctionKind.MUTATION, Visibility.PUBLIC)
action: FunctionDecorator = _make(FunctionKind.ACTION, Visibility.PUBLIC)
internal_query: FunctionDecorator = _make(FunctionKind.QUERY, Visibility.INTERNAL)
internal_mutation: FunctionDecorator = _make(FunctionKind.MUTATION, Visibility.INTERNAL)
internal_action: FunctionDecorator = _make(FunctionKind.ACTION, Visibility.INTERNAL)
