"""What every validator shares: the :class:`Validator` base, ``Check``, failures.

Contract.

* Validators are frozen: attributes are set once in ``__init__`` and assignment raises.
  Two validators are equal when their Convex validator JSON is equal (so
  ``v.float64() == v.number()``, as in Convex), and they hash alike.
* ``compile()`` returns a :data:`Check`, ``check(value, path, ids) -> value``, built
  once per validator object and cached. It wraps the validator's internal *node*
  (:mod:`pyconvex.schema.checks`) and turns the node's internal failure into a
  :class:`ValidationFailure` whose message starts with the full path under the
  caller's ``path`` prefix: ``args.channelId: expected Id("channels"), got 42``,
  ``args.text: missing required field``, ``args.extra: unexpected field``.
* ``ids`` is an :class:`IdResolver` (table name -> table number) or None; with it,
  ``v.id(t)`` also checks that the id belongs to table ``t``.

The concrete validators live in :mod:`pyconvex.schema.scalars` (leaves) and
:mod:`pyconvex.schema.validators` (containers and the ``v`` namespace).
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable
from typing import Any, ClassVar, NoReturn, Protocol, TypeAlias

from pyconvex.schema.checks import Node
from pyconvex.schema.failures import Invalid
from pyconvex.values.types import Value


class IdResolver(Protocol):
    """Maps a table name to its table number (None: no such table)."""

    def table_number(self, name: str) -> int | None: ...


Check: TypeAlias = Callable[[Any, str, "IdResolver | None"], Value]
"""``check(value, path, ids)``: the normalised value, or :class:`ValidationFailure`."""


class ValidationFailure(Exception):
    """A value did not match: ``.path`` (``args.tags[2]``) and the full ``.message``."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


class Validator(abc.ABC):
    """Base of every validator: frozen, comparable, compiled once on demand."""

    __slots__ = ("_check", "_node")
    _check: Check
    _node: Node
    kind: ClassVar[str] = ""
    fast_type: ClassVar[type | None] = None
    """Values of exactly this type pass unchanged, so containers test them inline."""
    accepted: ClassVar[frozenset[type] | None] = None
    """The Python types this validator may accept (None: any); see :meth:`accepts`."""

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    @property
    def is_optional(self) -> bool:
        """True only for ``v.optional(...)`` (an object field that may be absent)."""
        return False

    def describe(self) -> str:
        """The TS-ish name used in messages: ``string``, ``Id("channels")``, ``array<string>``."""
        return self.kind

    def accepts(self) -> frozenset[type] | None:
        """Python types this validator might accept (None: any); unions dispatch on it."""
        return self.accepted

    def to_json(self) -> dict[str, Any]:
        """Convex's validator JSON (``{"type": "string"}``, ...)."""
        return {"type": self.kind}

    def uses_ids(self) -> bool:
        """Whether a ``v.id()`` is anywhere inside: the only check that looks table
        numbers up, so a compiled check of a validator without one needs no
        :class:`IdResolver` (read from the JSON form, once per validator's user)."""
        return '"type": "id"' in json.dumps(self.to_json())

    def __repr__(self) -> str:
        return f"v.{self.kind}()"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Validator):
            return NotImplemented
        return self.is_optional == other.is_optional and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash((self.is_optional, json.dumps(self.to_json(), sort_keys=True)))

    @abc.abstractmethod
    def _build(self) -> Node:
        """The check of this kind of value (each validator class builds its own)."""

    def node(self) -> Node:
        """The internal closure ``node(value, ids)``, built once (raises ``checks.Invalid``)."""
        try:
            return self._node
        except AttributeError:
            built = self._build()
            self._set("_node", built)
            return built

    def compile(self) -> Check:
        """The compiled :data:`Check`; built on first call, then cached."""
        try:
            return self._check
        except AttributeError:
            pass
        node = self.node()

        def check(value: Any, path: str, ids: IdResolver | None) -> Value:
            try:
                return node(value, ids)  # type: ignore[no-any-return]
            except Invalid as e:
                where = e.full_path(path)
                raise ValidationFailure(where, e.message(where)) from None

        self._set("_check", check)
        return check


def require_validator(x: Any, where: str) -> Validator:
    """``x`` itself, or a ``TypeError`` saying that ``where`` wanted a validator."""
    if not isinstance(x, Validator):
        raise TypeError(f"{where}: expected a validator (v.string(), ...), got {x!r}")
    return x


def no_optional(x: Any, where: str) -> Validator:
    """``x``, refusing ``v.optional(...)``, which is only meaningful as an object field."""
    require_validator(x, where)
    if x.is_optional:
        raise TypeError(f"{where}: v.optional() is only allowed for object fields, got {x!r}")
    return x  # type: ignore[no-any-return]
