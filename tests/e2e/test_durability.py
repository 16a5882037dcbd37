"""Acknowledged commits survive SIGKILL; unacknowledged ones are all-or-nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from pyconvex import api
from pyconvex.deployment import Deployment

WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from pyconvex.deployment import Deployment

    async def main(url, functions, prefix):
        dep = await Deployment.open(url, functions)
        counter = 0

        async def worker(w):
            nonlocal counter
            while True:
                counter += 1
                tag = f"{prefix}w{w}-{counter}"
                await dep.runner.run_mutation("pairs:insert_pair", {"tag": tag})
                sys.stdout.write(tag + "\\n")
                sys.stdout.flush()

        await asyncio.gather(*(worker(w) for w in range(8)))

    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
async def test_sigkill_loses_no_acknowledged_commit(db_url: str, app_dir: Path, round_: int):
    url = db_url
    acknowledged: list[str] = []
    rng = random.Random(round_)
    for life in range(2):  # kill, reopen, and kill again on top of the recovered file
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, url, str(app_dir), f"p{life}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        first = proc.stdout.readline()  # wait until it is really committing
        assert first, proc.stderr.read() if proc.stderr else "writer died"
        acknowledged.append(first.strip())
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        acknowledged.extend(line for line in out.splitlines() if line.strip())
        assert time.monotonic() < deadline

    counts: Counter[str] = Counter()
    async with await Deployment.open(url, app_dir) as dep:
        cursor = None
        while True:  # every item, page by page
            opts = {"numItems": 4096, "cursor": cursor}
            page = (await dep.runner.run_query(api.pairs.tags, {"paginationOpts": opts})).value
            counts.update(page["page"])
            if page["isDone"]:
                break
            cursor = page["continueCursor"]
    missing = [tag for tag in acknowledged if counts.get(tag) != 2]
    assert not missing, f"{len(missing)} acknowledged commits lost, e.g. {missing[:3]}"
    torn = {tag: n for tag, n in counts.items() if n != 2}
    assert not torn, f"half-written transactions after SIGKILL: {torn}"
    assert len(acknowledged) > 10
