"""Function references: ``api.messages.send`` / ``internal.tasks.process`` -> a path.

References are pure names, bound to no registry, so user modules can import ``api``
before (or while) the functions directory is loaded. ``api.admin.users.remove`` is
``"admin/users:remove"``: every attribute but the last is a path segment.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

A = TypeVar("A")
R = TypeVar("R")


class FunctionReference(Generic[A, R]):
    """A name of a backend function; attribute access goes one level deeper."""

    __slots__ = ("_internal", "_parts")

    def __init__(self, parts: tuple[str, ...], internal: bool = False) -> None:
        self._parts = parts
        self._internal = internal

    def __getattr__(self, name: str) -> FunctionReference[Any, Any]:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return FunctionReference((*self._parts, name), self._internal)

    @property
    def path(self) -> str:
        parts = self._parts
        if len(parts) < 2:
            raise ValueError(
                f"'{'.'.join(parts)}' is a module, not a function: reference a function "
                "like api.messages.send"
            )
        return "/".join(parts[:-1]) + ":" + parts[-1]

    def __str__(self) -> str:
        return self.path

    def __repr__(self) -> str:
        root = "internal" if self._internal else "api"
        return f"{root}.{'.'.join(self._parts)}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FunctionReference) and other._parts == self._parts

    def __hash__(self) -> int:
        return hash(self._parts)


class _Root:
    __slots__ = ("_internal",)

    def __init__(self, internal: bool) -> None:
        self._internal = internal

    def __getattr__(self, name: str) -> FunctionReference[Any, Any]:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return FunctionReference((name,), self._internal)

    def __repr__(self) -> str:
        return "internal" if self._internal else "api"


api: Any = _Root(internal=False)
internal: Any = _Root(internal=True)


def function_path(ref: Any) -> str:
    """Accept a reference, a path string, or a registered function; return the path."""
    if isinstance(ref, FunctionReference):
        return ref.path
    if isinstance(ref, str):
        return ref
    path = getattr(ref, "path", None)
    if isinstance(path, str):
        return path
    raise TypeError(
        f"expected a function reference (api.module.fn) or a path string "
        f"('module:fn'), got {type(ref).__name__}"
    )
