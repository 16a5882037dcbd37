"""Function references: ``api.messages.send`` / ``internal.tasks.process`` -> a path.

References are pure names, bound to no registry, so user modules can import ``api``
before (or while) the functions directory is loaded. ``api.admin.users.remove`` is
``"admin/users:remove"``: every attribute but the last is a path segment.
"""

from __future__ import annotations

from typing import Any

from pyconvex.protocol.references import FunctionReference, _Root

__all__ = ["FunctionReference", "api", "function_path", "internal"]

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
