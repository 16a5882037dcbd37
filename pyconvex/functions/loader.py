"""Import a functions directory under a private package name; build a :class:`Registry`.

The directory (``convex/`` by default) is imported as ``_pyconvex_app_<n>`` so it never
shadows the official ``convex`` client package, and relative imports between its
modules work. Each load uses a fresh package name: a reload imports everything anew
and the caller swaps registries only once the whole load succeeded, so a syntax error
in one file leaves the previous code serving.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import itertools
import logging
import sys
import traceback
import types
from pathlib import Path
from typing import Any

from pyconvex.errors import BadRequestError
from pyconvex.functions.registration import RegisteredFunction
from pyconvex.functions.registry import Registry
from pyconvex.functions.runtime.determinism import freeze_module_clock

SKIP_DIRS = {"_generated", "__pycache__", "node_modules"}
SPECIAL = {"schema": "schema", "http": "http", "crons": "crons", "auth_config": "providers"}

_generations = itertools.count(1)
PACKAGE_PREFIX = "_pyconvex_app_"


class _FreshSourceLoader(importlib.machinery.SourceFileLoader):
    """Compile user modules from source on every load, never from ``__pycache__``.

    Bytecode caches are validated by whole-second mtime and size: an edit saved within
    the same second that keeps the size would otherwise reload the old code.
    """

    def get_code(self, fullname: str) -> types.CodeType:
        source = self.get_data(self.path)
        return compile(source, self.path, "exec", dont_inherit=True)


class _UserCodeFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if not fullname.startswith(PACKAGE_PREFIX) or path is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = _FreshSourceLoader(fullname, spec.loader.path)
        return spec


if not any(isinstance(f, _UserCodeFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _UserCodeFinder())


class FunctionsLoadError(BadRequestError):
    """A user module failed to import; the message names the file and line."""

    short_msg = "ModuleLoadError"


def _module_files(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if any(part in SKIP_DIRS or part.startswith(".") for part in rel.parts[:-1]):
            continue
        if path.name == "__init__.py":
            continue
        files.append(path)
    return files


def _describe(root: Path, exc: BaseException) -> str:
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f"{_rel(root, exc.filename)}:{exc.lineno}:{exc.offset or 0}"
        return f"{where}: SyntaxError: {exc.msg}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _inside(root, f.filename)]
    where = f"{_rel(root, frames[-1].filename)}:{frames[-1].lineno}" if frames else str(root)
    return f"{where}: {type(exc).__name__}: {exc}"


def _inside(root: Path, filename: str) -> bool:
    try:
        Path(filename).resolve().relative_to(root)
        return True
    except ValueError:
        return False


def _rel(root: Path, filename: str) -> str:
    try:
        return str(Path(filename).resolve().relative_to(root.parent))
    except ValueError:
        return filename


def unload(registry: Registry) -> None:
    """Forget a registry's modules so a long-running server does not accumulate them."""
    prefix = registry.modules.get("__package__")
    if prefix is None:
        return
    name = prefix.__name__
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]


def load_functions(functions_dir: str | Path) -> Registry:
    root = Path(functions_dir).resolve()
    if not root.is_dir():
        raise FunctionsLoadError(f"Functions directory {functions_dir} does not exist.")
    generation = next(_generations)
    package_name = f"{PACKAGE_PREFIX}{generation}"
    package = types.ModuleType(package_name)
    package.__path__ = [str(root)]
    package.__file__ = str(root / "__init__.py")
    package.__package__ = package_name
    sys.modules[package_name] = package
    # User modules log through logging.getLogger(__name__); let every level reach the
    # capture handler, which turns records into the function's log lines.
    logging.getLogger(package_name).setLevel(logging.DEBUG)
    registry = Registry(generation=generation)
    registry.modules["__package__"] = package
    try:
        init = root / "__init__.py"
        if init.exists():
            exec(compile(init.read_text(), str(init), "exec"), package.__dict__)
        for path in _module_files(root):
            rel = path.relative_to(root).with_suffix("")
            module_path = "/".join(rel.parts)
            _ensure_parents(package_name, rel.parts[:-1], root)
            try:
                module = importlib.import_module(f"{package_name}." + ".".join(rel.parts))
            except Exception as e:
                raise FunctionsLoadError(
                    f"Failed to load {path.relative_to(root.parent)}: {_describe(root, e)}"
                ) from e
            registry.modules[module_path] = module
            _collect(registry, module_path, module)
        for name, module in list(sys.modules.items()):
            if name.startswith(package_name + ".") and module is not None:
                freeze_module_clock(module)  # datetime.now() frozen in queries/mutations
    except BaseException:
        unload(registry)
        raise
    return registry


def _ensure_parents(package_name: str, folders: tuple[str, ...], root: Path) -> None:
    name = package_name
    path = root
    for folder in folders:
        name = f"{name}.{folder}"
        path = path / folder
        if name not in sys.modules and not (path / "__init__.py").exists():
            sub = types.ModuleType(name)
            sub.__path__ = [str(path)]
            sub.__package__ = name
            sys.modules[name] = sub


def _collect(registry: Registry, module_path: str, module: types.ModuleType) -> None:
    special = SPECIAL.get(module_path)
    if special is not None and hasattr(module, special):
        setattr(
            registry,
            "auth_config" if module_path == "auth_config" else module_path,
            getattr(module, special),
        )
    for name, value in vars(module).items():
        if isinstance(value, RegisteredFunction) and not name.startswith("_"):
            if value.handler.__module__ != module.__name__:
                continue  # imported from another module: registered under its own path
            path = f"{module_path}:{value.name or name}"
            other = registry.functions.get(path)
            if other is not None and other is not value:
                raise FunctionsLoadError(
                    f"{module_path}.py: two functions are published as {path}: "
                    f"{_describe_fn(other)} and {_describe_fn(value, name)}. Rename one, or "
                    "change its name=."
                )
            value.path = path
            registry.functions[path] = value


def _describe_fn(fn: RegisteredFunction, attribute: str | None = None) -> str:
    attribute = attribute or fn.handler.__name__
    return f"{attribute} (name={fn.name!r})" if fn.name else attribute
