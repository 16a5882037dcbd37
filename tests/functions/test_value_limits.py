"""Return values get the value limits documents get."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pyconvex.errors import LimitExceededError
from pyconvex.testing import ConvexTest


async def test_a_return_value_past_the_limits_is_refused(tmp_path: Path):
    functions = tmp_path / "convex"
    functions.mkdir()
    (functions / "big.py").write_text(textwrap.dedent('''
        from pyconvex import query

        @query
        async def long_list(ctx):
            return list(range(10_000))

        @query
        async def fine(ctx):
            return list(range(8_192))
    '''))
    async with ConvexTest(functions) as t:
        with pytest.raises(LimitExceededError, match=r"return value of big:long_list.*8192"):
            await t.query("big:long_list", {})
        assert len(await t.query("big:fine", {})) == 8192
