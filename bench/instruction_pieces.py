"""Instructions per call of single pieces of the insert path (callgrind). Each piece is
timed alone and loads do not move the count, so source trees compare exactly.

    .venv/bin/python bench/instruction_pieces.py <tree> [<tree> ...] [--calls 20000]

For each piece and tree, the piece runs under ``valgrind --tool=callgrind`` once with
``--calls`` calls and once with none (the same imports and set-up), and the difference is
divided by the count. The pieces:

- ``new_id``: a new id of a user table.
- ``schema_check``: bench/channels_app's ``posts`` document, with a new id, through the
  compiled schema check, as an insert checks it.
- ``index_keys``: that document's keys in its three indexes.
- ``listeners``: an execution's record, the log buffer, metrics (with insights) and one
  commit's latency, as `pyconvex serve` attaches them.
- ``ctx``: a ``MutationCtx``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

PIECES = ("new_id", "schema_check", "index_keys", "listeners", "ctx")

WORKLOAD = r'''
import asyncio, sys
piece, n = sys.argv[1], int(sys.argv[2])
from pyconvex.values import ids
from pyconvex.values.types import Id


def repeat(f):
    for _ in range(n):
        f()


if piece == "new_id":
    repeat(lambda: ids.new_id(10001))
elif piece == "schema_check":
    from pyconvex import define_schema, define_table, v
    schema = define_schema({"posts": define_table({"channel": v.string(), "body": v.string()})})
    check = schema.document_check("posts")

    class Ids:
        def table_number(self, name):
            return 10001

    resolver = Ids()
    repeat(lambda: check({"_id": ids.new_id(10001), "_creationTime": 1.7e12, "channel": "hot",
                          "body": "x" * 100}, "", resolver))
elif piece == "index_keys":
    from pyconvex.database import documents
    from pyconvex.database.catalog import index_info
    indexes = [index_info(1, "posts", 10001, "by_id", ()),
               index_info(2, "posts", 10001, "by_creation_time", ()),
               index_info(3, "posts", 10001, "by_channel", ("channel",))]
    doc = {"_id": Id(ids.new_id(10001), "posts"), "_creationTime": 1.7e12, "channel": "hot",
           "body": "x" * 100}
    if hasattr(documents, "index_keys"):
        repeat(lambda: documents.index_keys(indexes, doc))
    else:
        repeat(lambda: {i.id: documents.index_key(i, doc) for i in indexes})
elif piece == "listeners":
    import pyconvex.server.metrics as metrics_module
    from pyconvex.functions import ExecutionRecord
    from pyconvex.server.log_buffer import LogBuffer
    metrics_module._Sampled.collect = lambda self: iter(())  # no server state to sample

    class State:
        pass

    async def main():
        metrics, logs = metrics_module.Metrics(State()), LogBuffer()

        def one():
            record = ExecutionRecord("channels:post", "mutation", [], None, 1.7e12, 2.0,
                                     "0123456789abcdef", None, 0, 0, 1, 150, 0, (), ())
            logs.append(record)
            metrics.on_execution(record)
            metrics.on_commit(0.003)

        repeat(one)

    asyncio.run(main())
elif piece == "ctx":
    from pyconvex.functions.registry import Registry
    from pyconvex.functions.runtime.ctx_impl import MutationCtx
    from pyconvex.functions.runtime.services import StorageService

    class Txn:
        now_ms = 1.0

    txn, registry, storage = Txn(), Registry(), StorageService()
    repeat(lambda: MutationCtx(txn, None, registry, storage, runner=None))
'''


def count(tree: str, piece: str, calls: int, script: Path) -> int:
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         str(script), piece, str(calls)],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=tree),
        cwd=script.parent,
    )
    found = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode or found is None:
        raise SystemExit(f"{piece} failed in {tree}:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("trees", nargs="+")
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    trees = [str(Path(t).resolve()) for t in args.trees]
    print("| piece | " + " | ".join(trees) + " |")
    print("|---|" + "---|" * len(trees))
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "piece.py"
        script.write_text(WORKLOAD)
        for piece in PIECES:
            per_call = [(count(t, piece, args.calls, script) - count(t, piece, 0, script))
                        / args.calls for t in trees]
            print(f"| {piece} | " + " | ".join(f"{n:,.0f}" for n in per_call) + " |", flush=True)


if __name__ == "__main__":
    main()
