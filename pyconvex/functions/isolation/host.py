"""The server's side of a worker's calls: each runs through an in-process ``ActionCtx``
with the action's identity, so a call from a worker is exactly the call an in-process
action would make (its own transaction, validation, scheduling, storage)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyconvex.errors import BadRequestError
from pyconvex.functions.runtime.ctx_impl import ActionCtx
from pyconvex.functions.runtime.executor import FunctionRunner


def _replayed_filter(recorded: Any) -> Callable[[Any], Any] | None:
    """The vector-search filter lambda, rebuilt from what ``_FilterRecorder`` recorded."""
    if recorded is None:
        return None

    def build(q: Any, node: Any) -> Any:
        if isinstance(node, tuple) and node and node[0] == "eq":
            return q.eq(node[1], node[2])
        if isinstance(node, tuple) and node and node[0] == "or":
            return q.or_(*(build(q, child) for child in node[1:]))
        raise BadRequestError("vector_search: filter must return q.eq(...) or q.or_(...).")

    return lambda q: build(q, recorded)


async def answer(
    runner: FunctionRunner, identity: dict[str, Any] | None, method: str,
    args: tuple[Any, ...], kwargs: dict[str, Any], lines: list[str],
) -> Any:
    """Run one call of a worker's action; ``lines`` collects what nested functions log."""
    ctx = ActionCtx(runner, identity, lines)
    if method == "run_query":
        return await ctx.run_query(*args)
    if method == "run_mutation":
        return await ctx.run_mutation(*args)
    if method == "run_action":
        return await ctx.run_action(*args)
    if method == "vector_search":
        kwargs = dict(kwargs, filter=_replayed_filter(kwargs.get("filter")))
        return await ctx.vector_search(*args, **kwargs)
    group, _, name = method.partition(".")
    target = {"scheduler": ctx.scheduler, "storage": ctx.storage}.get(group)
    if target is None or name.startswith("_") or not hasattr(target, name):
        raise BadRequestError(f"actions cannot call ctx.{method}")
    return await getattr(target, name)(*args, **kwargs)
