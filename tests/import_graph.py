"""Import cycles within a package, from its source (type-checking imports included)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path


def import_graph(package: str) -> dict[str, set[str]]:
    """Each module of ``package`` (and its subpackages) -> the modules of it it imports."""
    root = Path(importlib.import_module(package).__file__ or "").parent
    top = root.parents[package.count(".")]
    modules: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(top).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = {
            node.module
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and node.module
            and node.module.startswith(package + ".")
        }
    return {name: deps & modules.keys() for name, deps in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    found: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                found.append([*path[path.index(dep):], dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return found
