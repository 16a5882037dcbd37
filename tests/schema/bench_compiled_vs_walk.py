"""Compiled checks against the naive walk (``walk.py``): run, don't collect.

    .venv/bin/python -m tests.schema.bench_compiled_vs_walk

Prints microseconds per value (best of 7 runs) for documents shaped like the chat
app's. Timing is measured here, never asserted in tests (docs/style.md §9).
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from typing import Any

from pyconvex.schema import Validator, checks, v
from pyconvex.values import new_id
from tests.schema.walk import walk


class Ids:
    def table_number(self, name: str) -> int | None:
        return {"channels": 10001, "users": 10002}.get(name)


MESSAGE = v.object(
    {
        "text": v.string(),
        "channelId": v.id("channels"),
        "userId": v.id("users"),
        "createdAt": v.number(),
        "edited": v.optional(v.boolean()),
        "status": v.union(v.literal("sent"), v.literal("delivered"), v.literal("read")),
        "metadata": v.optional(
            v.object({"tags": v.array(v.string()), "category": v.union(v.string(), v.null()), "score": v.float64()})
        ),
        "reactions": v.record(v.string(), v.int64()),
    }
)
MESSAGE_DOC = {
    "text": "hello world",
    "channelId": new_id(10001),
    "userId": new_id(10002),
    "createdAt": 1700000000000.0,
    "edited": False,
    "status": "read",
    "metadata": {"tags": ["a", "b", "c", "d"], "category": None, "score": 3},
    "reactions": {"thumbs": 3, "heart": 1},
}
NO_IDS = v.object({k: f for k, f in MESSAGE.fields.items() if k not in ("channelId", "userId")})
NO_IDS_DOC = {k: x for k, x in MESSAGE_DOC.items() if k not in ("channelId", "userId")}
FLAT = v.object({"a": v.string(), "b": v.number(), "c": v.boolean(), "d": v.null(), "e": v.string(), "f": v.number()})
FLAT_DOC = {"a": "x", "b": 1.0, "c": True, "d": None, "e": "y", "f": 2.0}
EMBEDDING = v.object({"embedding": v.array(v.float64())})
EMBEDDING_DOC = {"embedding": [0.1] * 1536}


def best(fn: Callable[[], Any], number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e6


def compare(label: str, validator: Validator, value: Any, number: int, *, fresh_ids: bool = False) -> None:
    ids = Ids()
    check = validator.compile()
    assert check(value, "", ids) == walk(validator, value, "", ids)

    def compiled() -> Any:
        if fresh_ids:
            checks._ID_CACHE.clear()
        return check(value, "", ids)

    c = best(compiled, number)
    w = best(lambda: walk(validator, value, "", ids), number)
    print(f"{label:44s} compiled {c:7.2f} us   walk {w:7.2f} us   {w / c:5.1f}x")


def main() -> None:
    compare("message: 2 ids, literal union, nested, record", MESSAGE, MESSAGE_DOC, 20_000)
    compare("same, id cache cleared on every call", MESSAGE, MESSAGE_DOC, 20_000, fresh_ids=True)
    compare("message without the 2 ids", NO_IDS, NO_IDS_DOC, 20_000)
    compare("flat: 6 scalar fields", FLAT, FLAT_DOC, 100_000)
    compare("embedding: 1536 floats", EMBEDDING, EMBEDDING_DOC, 2_000)


if __name__ == "__main__":
    main()
