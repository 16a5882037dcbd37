"""An unknown function path close to a real one says which one was meant."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyconvex.errors import NotFoundError
from pyconvex.testing import ConvexTest

pytestmark = pytest.mark.one_backend  # resolving a path happens before any database work


async def test_a_typo_in_a_path_suggests_the_function(app_dir: Path) -> None:
    async with ConvexTest(app_dir) as t:
        with pytest.raises(NotFoundError) as info:
            await t.mutation("messages:sned", {"channelId": "x", "text": "hi"})
        assert str(info.value) == (
            "Could not find function for 'messages:sned'. Did you mean 'messages:send'?"
        )
        assert info.value.short_msg == "FunctionNotFound"


async def test_public_callers_are_never_pointed_at_internal_functions(app_dir: Path) -> None:
    async with ConvexTest(app_dir) as t:
        runner = t.deployment.runner
        with pytest.raises(NotFoundError) as info:  # as a client calls it
            await runner.run_mutation("messages:sned", {}, None)
        assert "Did you mean 'messages:send'?" in str(info.value)
        with pytest.raises(NotFoundError) as info:  # messages:wipe is internal
            await runner.run_mutation("messages:wipee", {}, None)
        assert "wipe'" not in str(info.value)
        assert str(info.value) == (
            "Could not find public function for 'messages:wipee'. Did you forget to run "
            "`pyconvex dev` or `pyconvex deploy`?"
        )
        with pytest.raises(NotFoundError) as info:  # nothing close: no guess
            await runner.run_query("weather:forecast", {}, None)
        assert "Did you mean" not in str(info.value)


async def test_a_typo_in_the_module_suggests_the_function_there(app_dir: Path) -> None:
    async with ConvexTest(app_dir) as t:
        with pytest.raises(NotFoundError, match=r"Did you mean 'messages:send'\?$"):
            await t.deployment.runner.run_mutation("mesages:send", {}, None)
