"""The database package imports without cycles (type-checking imports included): the
committer knows commit requests, not transactions; transactions know the few things
they need of a database (``TransactionHost``), not ``Database``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pyconvex.database

pytestmark = pytest.mark.one_backend
ROOT = Path(pyconvex.database.__file__).parent


def _graph() -> dict[str, set[str]]:
    modules: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        deps = {
            node.module
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and node.module
            and node.module.startswith("pyconvex.database.")
        }
        modules[name] = deps
    return {name: deps & modules.keys() for name, deps in modules.items()}


def test_no_module_of_the_database_package_imports_itself_back():
    graph = _graph()
    assert "pyconvex.database.transaction" in graph and len(graph) > 10
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep):], dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, cycles
