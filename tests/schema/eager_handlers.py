"""Handlers whose annotations are evaluated eagerly (deliberately no ``from __future__``)."""

from typing import Any, Literal, Optional

from pyconvex.values import Id


async def send(ctx, channelId: Id["channels"], text: str, limit: Optional[int] = None):  # noqa: F821, UP045
    return None


async def tagged(ctx, tags: list[str], mode: Literal["a", "b"], extra: Any, bare):
    return None
