"""Test your functions against the real engine, in-process.

>>> async with ConvexTest("convex") as t:
...     cid = await t.mutation(api.channels.create, {"name": "general"})
...     msgs = await t.query("messages:list", {"channelId": cid})

Like ``convex-test`` but with no mock: a fresh SQLite deployment in a temporary
directory, the functions directory loaded and its schema pushed. The clock is virtual:
``await t.advance_time(ms)`` moves ``ctx.now()`` forward.
"""

from pyconvex.testing.clock import VirtualClock
from pyconvex.testing.convex_test import ConvexTest

__all__ = ["ConvexTest", "VirtualClock"]
