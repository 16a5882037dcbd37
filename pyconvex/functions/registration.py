"""``@query``, ``@mutation``, ``@action`` and their ``internal_*`` twins.

A decorated handler becomes a :class:`RegisteredFunction`: the handler plus its kind,
visibility and validators. Validators come from ``args=``/``returns=`` when given,
otherwise from the handler's annotations (``channelId: Id["channels"]``), and are
compiled once, here, not per call. ``name=`` publishes a function under another name
than its attribute's (``@mutation(name="sendMessage")``); the loader refuses two
functions of one module published under the same name.
"""

from __future__ import annotations

import enum
import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, overload

from pyconvex.schema import (
    Check,
    Validator,
    args_validator_from_signature,
    check_handler_accepts,
    v,
)


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
    args_use_ids: bool = field(default=False, repr=False)
    """Whether ``args`` has a ``v.id()`` (the only check that looks up table numbers):
    without one, the argument check gets no id resolver to make per call."""
    name: str | None = None
    """The name it is published under when not its attribute name (``auth:signIn``)."""

    def __post_init__(self) -> None:
        self.args_check = self.args.compile() if self.args is not None else None
        self.args_use_ids = self.args is not None and self.args.uses_ids()
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


class FunctionDecorator(Protocol):
    """``@query`` bare, or ``@query(args={...}, returns=v...)``."""

    @overload
    def __call__(self, fn: Handler, /) -> RegisteredFunction: ...

    @overload
    def __call__(
        self, *, args: Any = None, returns: Validator | None = None, name: str | None = None
    ) -> Callable[[Handler], RegisteredFunction]: ...


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _published_name(handler: Handler, name: Any) -> str | None:
    """``name=``: what clients call the function (``api.messages.sendMessage``), so a
    front end written for Convex keeps its camelCase while the Python stays snake_case."""
    if name is None:
        return None
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise TypeError(
            f"{handler.__name__}: name= must be an identifier (letters, digits, '_', not "
            f"starting with a digit), like name=\"sendMessage\"; got {name!r}"
        )
    return name


def _args_validator(handler: Handler, args: Any) -> Validator | None:
    if args is None:
        return args_validator_from_signature(handler)
    validator = v.object(args) if isinstance(args, dict) else args
    if isinstance(validator, Validator):
        check_handler_accepts(handler, validator)
        return validator
    raise TypeError(
        f"{handler.__name__}: args= must be a dict of validators or v.object(...), "
        f"got {type(args).__name__}"
    )


def _make(kind: FunctionKind, visibility: Visibility) -> FunctionDecorator:
    @overload
    def decorator(fn: Handler, /) -> RegisteredFunction: ...

    @overload
    def decorator(
        *, args: Any = None, returns: Validator | None = None, name: str | None = None
    ) -> Callable[[Handler], RegisteredFunction]: ...

    def decorator(
        fn: Handler | None = None, /, *, args: Any = None, returns: Validator | None = None,
        name: str | None = None,
    ) -> Any:
        def wrap(handler: Handler) -> RegisteredFunction:
            if not inspect.iscoroutinefunction(handler):
                raise TypeError(
                    f"{handler.__name__}: {kind.value} handlers must be 'async def "
                    f"{handler.__name__}(ctx, ...)'"
                )
            return RegisteredFunction(
                kind, visibility, handler, _args_validator(handler, args), returns,
                name=_published_name(handler, name),
            )

        if fn is not None:
            return wrap(fn)
        return wrap

    decorator.__name__ = (
        kind.value if visibility is Visibility.PUBLIC else f"internal_{kind.value}"
    )
    decorator.__doc__ = (
        f"Register a {visibility.value} {kind.value}. Use bare (@{decorator.__name__}) or "
        f"with validators (@{decorator.__name__}(args={{...}}, returns=v...)); name=... "
        "publishes it under another name than its attribute's."
    )
    return decorator


query: FunctionDecorator = _make(FunctionKind.QUERY, Visibility.PUBLIC)
mutation: FunctionDecorator = _make(FunctionKind.MUTATION, Visibility.PUBLIC)
action: FunctionDecorator = _make(FunctionKind.ACTION, Visibility.PUBLIC)
internal_query: FunctionDecorator = _make(FunctionKind.QUERY, Visibility.INTERNAL)
internal_mutation: FunctionDecorator = _make(FunctionKind.MUTATION, Visibility.INTERNAL)
internal_action: FunctionDecorator = _make(FunctionKind.ACTION, Visibility.INTERNAL)
