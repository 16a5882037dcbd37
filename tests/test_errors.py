"""The error tree drawn in ``pyconvex/errors.py`` is the real one: every error class any
module defines is in it, under the class it really derives from."""

from __future__ import annotations

import importlib
import pkgutil

import pyconvex
import pyconvex.errors as errors
from pyconvex.errors import ConvexError, OccConflict, PyConvexError


def _drawn_tree() -> dict[str, str]:
    """``{class name: parent name}`` as drawn (indentation gives the parent)."""
    doc = errors.__doc__ or ""
    block = doc.split("```")[1].strip("\n").splitlines()
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []  # (indent, name) of the open branches
    for line in block:
        indent = len(line) - len(line.lstrip())
        name = line.split()[1].split("(")[0]
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parents[name] = stack[-1][1] if stack else "Exception"
        stack.append((indent, name))
    return parents


def _every_error_class() -> list[type[BaseException]]:
    for module in pkgutil.walk_packages(pyconvex.__path__, "pyconvex."):
        importlib.import_module(module.name)
    found: list[type[BaseException]] = [ConvexError, OccConflict]
    todo: list[type[BaseException]] = [PyConvexError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_class_is_drawn_under_its_base() -> None:
    drawn = _drawn_tree()
    missing = [c.__qualname__ for c in _every_error_class() if c.__qualname__ not in drawn]
    assert missing == [], f"error classes missing from the tree in pyconvex/errors.py: {missing}"
    misplaced = {
        c.__qualname__: (drawn[c.__qualname__], c.__bases__[0].__qualname__)
        for c in _every_error_class()
        if drawn[c.__qualname__] != c.__bases__[0].__qualname__
    }
    assert misplaced == {}, f"drawn under the wrong parent (drawn, real): {misplaced}"


def test_the_tree_parser_reads_nesting() -> None:
    """Guards the test above against a parser that would accept any drawing."""
    drawn = _drawn_tree()
    assert drawn["PyConvexError"] == "Exception"
    assert drawn["ArgumentValidationError"] == "BadRequestError"
    assert drawn["TokenUsedError"] == "BadTokenError"
    assert drawn["OccConflict"] == "Exception"
