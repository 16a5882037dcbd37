"""The registry of loaded functions, and how a requested path finds its function.

Path rules (docs/protocol.md §11): accept ``module[.js][:function]``; split at the last
``:``; no colon means ``default``; strip a trailing ``.js``; ``/`` separates folders.
Functions are keyed by ``"<module>:<function>"``.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from pyconvex.errors import BadRequestError
from pyconvex.functions.registration import RegisteredFunction
from pyconvex.functions.system import PREFIX as SYSTEM_PREFIX
from pyconvex.functions.system import SYSTEM_FUNCTIONS

_SEGMENT = re.compile(r"^[A-Za-z0-9_.\-]+$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class BadFunctionPathError(BadRequestError):
    short_msg = "BadConvexFunctionIdentifier"


def canonicalize_path(path: str) -> str:
    if not isinstance(path, str) or not path:
        raise BadFunctionPathError(f"Invalid function path {path!r}")
    return _canonical(path)


@functools.lru_cache(maxsize=4096)
def _canonical(path: str) -> str:
    """Cached: every call and every subscription canonicalises its path."""
    module, sep, name = path.rpartition(":")
    if not sep:
        module, name = path, "default"
    if module.endswith(".js"):
        module = module[:-3]
    if module.endswith(".py"):
        module = module[:-3]
    segments = module.split("/")
    if not module or not all(_SEGMENT.match(s) for s in segments) or not _IDENT.match(name):
        raise BadFunctionPathError(
            f"Invalid function path {path!r}: expected 'module:function' "
            "(e.g. 'messages:send' or 'admin/users:remove')."
        )
    return f"{module}:{name}"


def display_path(path: str) -> str:
    """The form used in messages: ``messages`` for ``messages:default``."""
    return path[: -len(":default")] if path.endswith(":default") else path


@dataclass
class Registry:
    functions: dict[str, RegisteredFunction] = field(default_factory=dict)
    modules: dict[str, ModuleType] = field(default_factory=dict)
    schema: Any = None
    http: Any = None
    crons: Any = None
    auth_config: Any = None
    generation: int = 0

    def lookup(self, path: str) -> RegisteredFunction | None:
        """The function at ``path``; ``_system/...`` paths are pyconvex's own
        (``functions/system``), found ahead of user code."""
        fn = self.functions.get(path)
        if fn is not None:
            return fn
        canonical = canonicalize_path(path)
        if canonical.startswith(SYSTEM_PREFIX):
            return SYSTEM_FUNCTIONS.get(canonical)
        return self.functions.get(canonical)

    def did_you_mean(self, path: str, *, internal_ok: bool) -> str:
        """`` Did you mean 'messages:send'?`` for a path close to a callable function's
        (a typo such as ``messages:sned``), else ``""``: appended to "not found"."""
        callable_paths = [p for p, fn in self.functions.items() if internal_ok or fn.is_public]
        module, _, name = path.rpartition(":")
        # Within a known module compare function names alone: a long shared module
        # prefix would make any two of its functions look alike.
        in_module = {p.rpartition(":")[2]: p for p in callable_paths
                     if p.rpartition(":")[0] == module}
        if in_module:
            close = difflib.get_close_matches(name, in_module, n=1, cutoff=0.7)
            guess = in_module[close[0]] if close else None
        else:
            close = difflib.get_close_matches(path, callable_paths, n=1, cutoff=0.8)
            guess = close[0] if close else None
        return f" Did you mean '{display_path(guess)}'?" if guess else ""
