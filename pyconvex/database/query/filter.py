"""Filter expressions: ``q.eq(q.field("a"), 1)`` and friends, compiled to closures.

Comparisons use Convex's total order of values (so comparing values of different types
is well defined), with one Python-friendly exception: an ``int`` and a ``float`` compare
numerically, because a Python literal ``5`` should match a stored number ``5.0``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from pyconvex.errors import InvalidQueryError
from pyconvex.values import MISSING, Document, Value, compare_values, get_path

Evaluator = Callable[[Document], Any]


class Expr:
    __slots__ = ("evaluate",)

    def __init__(self, evaluate: Evaluator) -> None:
        self.evaluate = evaluate


def _compile(x: Any) -> Evaluator:
    if isinstance(x, Expr):
        return x.evaluate
    if isinstance(x, FilterBuilder):
        raise InvalidQueryError("filter: pass q.field('name') or a value, not q itself.")
    value = x
    return lambda _doc: value


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def compare(a: Any, b: Any) -> int:
    if _is_number(a) and _is_number(b) and type(a) is not type(b):
        fa, fb = float(a), float(b)
        if not (math.isnan(fa) or math.isnan(fb)):
            return (fa > fb) - (fa < fb)
    return compare_values(a, b)


def _arith(name: str, op: Callable[[Any, Any], Any]) -> Callable[..., Expr]:
    def build(self: FilterBuilder, a: Any, b: Any) -> Expr:
        fa, fb = _compile(a), _compile(b)

        def evaluate(doc: Document) -> Any:
            x, y = fa(doc), fb(doc)
            if not (_is_number(x) and _is_number(y)):
                raise InvalidQueryError(
                    f"filter: q.{name}() needs two numbers, got {x!r} and {y!r}"
                )
            return op(x, y)

        return Expr(evaluate)

    return build


class FilterBuilder:
    """The ``q`` handed to ``filter(lambda q: ...)``."""

    def field(self, path: str) -> Expr:
        return Expr(lambda doc: get_path(doc, path))

    def _cmp(self, a: Any, b: Any, test: Callable[[int], bool]) -> Expr:
        fa, fb = _compile(a), _compile(b)
        return Expr(lambda doc: test(compare(fa(doc), fb(doc))))

    def eq(self, a: Any, b: Any) -> Expr:
        return self._cmp(a, b, lambda c: c == 0)

    def neq(self, a: Any, b: Any) -> Expr:
        return self._cmp(a, b, lambda c: c != 0)

    def lt(self, a: Any, b: Any) -> Expr:
        return self._cmp(a, b, lambda c: c < 0)

    def lte(self, a: Any, b: Any) -> Expr:
        return self._cmp(a, b, lambda c: c <= 0)

    def gt(self, a: Any, b: Any) -> Expr:
        return self._cmp(a, b, lambda c: c > 0)

    def gte(self, a: Any, b: Any) -> Expr:
        return self._cmp(a, b, lambda c: c >= 0)

    def and_(self, *exprs: Any) -> Expr:
        fs = [_compile(e) for e in exprs]
        return Expr(lambda doc: all(_truthy(f(doc)) for f in fs))

    def or_(self, *exprs: Any) -> Expr:
        fs = [_compile(e) for e in exprs]
        return Expr(lambda doc: any(_truthy(f(doc)) for f in fs))

    def not_(self, expr: Any) -> Expr:
        f = _compile(expr)
        return Expr(lambda doc: not _truthy(f(doc)))

    add = _arith("add", lambda x, y: x + y)
    sub = _arith("sub", lambda x, y: x - y)
    mul = _arith("mul", lambda x, y: x * y)
    div = _arith("div", lambda x, y: x / y if y != 0 else math.nan)
    mod = _arith("mod", lambda x, y: math.fmod(x, y) if y != 0 else math.nan)

    def neg(self, a: Any) -> Expr:
        f = _compile(a)
        return Expr(lambda doc: -f(doc))


def _truthy(value: Value | object) -> bool:
    if value is MISSING:
        return False
    return bool(value)


def compile_filter(predicate: Any) -> Evaluator:
    """Turn ``lambda q: ...`` (or an Expr) into ``doc -> bool``."""
    expr = predicate(FilterBuilder()) if callable(predicate) else predicate
    if isinstance(expr, bool):
        constant = expr
        return lambda _doc: constant
    if not isinstance(expr, Expr):
        raise InvalidQueryError(
            "filter() expects a function returning an expression built from q "
            f"(e.g. lambda q: q.eq(q.field('done'), False)), got {type(expr).__name__}",
            short_msg="InvalidFilter",
        )
    f = expr.evaluate
    return lambda doc: _truthy(f(doc))
