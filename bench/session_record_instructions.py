"""Instructions per WebSocket session record, counted by valgrind (callgrind): a loop
of ``db.begin()`` and ``record_session_request(...)`` (the record every WebSocket
mutation writes: its lookup key and encoded outcome), no commit, main thread only. The
whole-path counts spread by a few percent run to run; this one does not.

    .venv/bin/python bench/session_record_instructions.py TREE [TREE ...] [--count 4000]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from layers_instructions import compare

WORKLOAD = r"""
import asyncio, sys
tree, n = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, tree)
import pyconvex
assert pyconvex.__file__.startswith(tree), pyconvex.__file__
from pyconvex.database.session_requests import record_session_request
from pyconvex.testing import ConvexTest

async def main():
    async with ConvexTest(tree + "/bench/channels_app/convex") as t:
        db = t.deployment.db
        await t.mutation("channels:post", {"channel": "hot", "body": "x"})
        value = await t.mutation("channels:post", {"channel": "hot", "body": "x"})
        for i in range(n):
            record_session_request(db.begin(), "session-01", i, "user:", value, [])

asyncio.run(main())
"""

if __name__ == "__main__":
    compare(WORKLOAD, "begin + session record", 4000)
