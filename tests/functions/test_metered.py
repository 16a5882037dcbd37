"""The metering of a handler's steps (``functions/runtime/limits.py``) through its reused
drivers: results, suspensions, failures and nesting come out as a plain ``await`` of the
handler gives them, however the drivers are shared between handlers."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import pytest

from pyconvex.errors import FunctionTimeoutError
from pyconvex.functions.runtime.limits import Budget, start_metered


def _budget(limit_s: float = 1.0) -> Budget:
    return Budget("test:fn", "mutation", limit_s, 64 << 20)


async def _returns(x: Any) -> Any:
    return x


async def _suspends(x: Any) -> Any:
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    return x


async def _raises(x: Any) -> Any:
    raise ValueError(x)


async def _nested(x: Any) -> Any:
    """A handler that meters another inside its own step (``ctx.run_mutation``)."""
    done, inner = start_metered(_returns(x + 1), _budget())
    assert done
    done_too, rest = start_metered(_suspends(inner + 1), _budget())
    assert not done_too
    return await rest


async def test_interleaved_handlers_each_get_their_own_result() -> None:
    in_flight = []
    for i in range(300):  # more than the idle drivers kept
        done, value = start_metered(_returns(i), _budget())
        assert done and value == i
        done, rest = start_metered(_suspends(i), _budget())
        assert not done
        in_flight.append((i, rest))
        with pytest.raises(ValueError, match=str(i)):
            start_metered(_raises(i), _budget())
        done, rest = start_metered(_nested(i), _budget())
        assert not done
        in_flight.append((i + 2, rest))
    for expected, rest in in_flight:
        assert await rest == expected
    for i in range(3):  # drivers freed by the suspended ones are reused
        assert start_metered(_returns(i), _budget()) == (True, i)


async def test_a_returned_value_is_not_kept_by_the_idle_driver() -> None:
    class Value:
        pass

    value = Value()
    ref = weakref.ref(value)
    done, out = start_metered(_returns(value), _budget())
    assert done and out is value
    del value, out
    gc.collect()
    assert ref() is None


async def test_a_handler_over_its_budget_still_fails_and_its_driver_is_not_reused() -> None:
    async def slow() -> int:
        await asyncio.sleep(0.05)
        return 1

    done, rest = start_metered(slow(), _budget(limit_s=0.01))
    assert not done
    with pytest.raises(FunctionTimeoutError):
        await rest
    assert start_metered(_returns(7), _budget()) == (True, 7)
