"""Which live queries read a key: a stabbing index over read intervals, one per index id.

A commit asks, for each index key it wrote, which subscriptions' read intervals contain
that key. The answer must cost what the commit touches, not what is subscribed: with
10,000 idle subscriptions on other keys of the same index, a commit should do no more
than a logarithmic walk. So this is an interval tree: a treap (a binary search tree
kept balanced by random priorities) ordered by interval start, each node carrying the
largest end in its subtree. Adding or removing an interval is O(log n) and a stab is
O(log n) per interval found, whatever the mix of point reads and whole-table scans.

(The first version kept a sorted array with a running maximum of ends: a stab was one
bisect, but every change re-sorted the whole array, so each commit that re-ran a query
paid for every other subscription of its index, and one whole-table read made every
stab walk back to it.)
"""

from __future__ import annotations

import random
from collections.abc import Hashable
from typing import Generic, TypeVar

TOP = b"\xff" * 32
"""Above every index key: stands for an unbounded interval end."""

T = TypeVar("T", bound=Hashable)

# A private generator: the server's own code never shares the random module's state
# with user functions (whose ``random`` is seeded per execution).
_priorities = random.Random(0x5EED)


class _Node(Generic[T]):
    __slots__ = ("hi", "item", "key", "left", "lo", "max_hi", "prio", "right")

    def __init__(self, lo: bytes, seq: int, hi: bytes, item: T) -> None:
        self.lo = lo
        self.key = (lo, seq)  # unique: two equal starts are told apart by arrival
        self.hi = hi
        self.item = item
        self.prio = _priorities.random()
        self.left: _Node[T] | None = None
        self.right: _Node[T] | None = None
        self.max_hi = hi


def _pull(node: _Node[T]) -> None:
    top = node.hi
    left, right = node.left, node.right
    if left is not None and left.max_hi > top:
        top = left.max_hi
    if right is not None and right.max_hi > top:
        top = right.max_hi
    node.max_hi = top


def _split(
    node: _Node[T] | None, key: tuple[bytes, int]
) -> tuple[_Node[T] | None, _Node[T] | None]:
    """(nodes with key < ``key``, the rest)."""
    if node is None:
        return None, None
    if node.key < key:
        node.right, rest = _split(node.right, key)
        _pull(node)
        return node, rest
    below, node.left = _split(node.left, key)
    _pull(node)
    return below, node


def _merge(a: _Node[T] | None, b: _Node[T] | None) -> _Node[T] | None:
    """Join two treaps where every key of ``a`` is below every key of ``b``."""
    if a is None:
        return b
    if b is None:
        return a
    if a.prio > b.prio:
        a.right = _merge(a.right, b)
        _pull(a)
        return a
    b.left = _merge(a, b.left)
    _pull(b)
    return b


def _insert(node: _Node[T] | None, new: _Node[T]) -> _Node[T]:
    if node is None:
        return new
    if new.prio > node.prio:
        new.left, new.right = _split(node, new.key)
        _pull(new)
        return new
    if new.key < node.key:
        node.left = _insert(node.left, new)
    else:
        node.right = _insert(node.right, new)
    if new.max_hi > node.max_hi:
        node.max_hi = new.max_hi
    return node


def _delete(node: _Node[T] | None, key: tuple[bytes, int]) -> _Node[T] | None:
    if node is None:
        return None
    if node.key == key:
        return _merge(node.left, node.right)
    if key < node.key:
        node.left = _delete(node.left, key)
    else:
        node.right = _delete(node.right, key)
    _pull(node)
    return node


class IntervalIndex(Generic[T]):
    """Half-open intervals ``[lo, hi)`` over key bytes, each belonging to an item (a
    subscription); ``stab(key)`` finds the items with an interval containing ``key``.

    ``visits`` counts the tree nodes stabs looked at: what a commit costs here, which a
    test holds to the keys written rather than the number of subscriptions.
    """

    def __init__(self) -> None:
        self._root: _Node[T] | None = None
        self._nodes: dict[T, list[_Node[T]]] = {}
        self._seq = 0
        self._count = 0
        self.visits = 0

    def add(self, lo: bytes, hi: bytes | None, item: T) -> None:
        self._seq += 1
        node = _Node(lo, self._seq, hi if hi is not None else TOP, item)
        self._root = _insert(self._root, node)
        self._nodes.setdefault(item, []).append(node)
        self._count += 1

    def remove(self, item: T) -> None:
        """Every interval of ``item`` (none: nothing happens)."""
        for node in self._nodes.pop(item, ()):
            self._root = _delete(self._root, node.key)
            self._count -= 1

    def __len__(self) -> int:
        return self._count

    def __contains__(self, item: object) -> bool:
        return item in self._nodes

    def stab(self, key: bytes, out: set[T]) -> None:
        """Add to ``out`` every item with an interval containing ``key``."""
        stack = [self._root]
        visits = 0
        while stack:
            node = stack.pop()
            if node is None or node.max_hi <= key:
                continue  # nothing below ends past the key
            visits += 1
            stack.append(node.left)
            if node.lo <= key:
                if key < node.hi:
                    out.add(node.item)
                stack.append(node.right)  # right of a start above the key: all above
        self.visits += visits

    def depth(self) -> int:
        """The tree's height (for tests of its balance)."""
        best = 0
        stack: list[tuple[_Node[T] | None, int]] = [(self._root, 0)]
        while stack:
            node, d = stack.pop()
            if node is not None:
                best = max(best, d + 1)
                stack.append((node.left, d + 1))
                stack.append((node.right, d + 1))
        return best
