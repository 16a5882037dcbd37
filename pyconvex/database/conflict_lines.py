"""Lines of re-runs waiting on a hot key: one re-run per commit instead of a stampede.

When many mutations read and write one document (a counter), each commit makes every
other one in flight lose its OCC race on that document's key. If all of them re-ran at
once, one would win and all the others would have run for nothing, again and again: the
work per increment grows with the number of writers and the losers fall back to random
sleeps. Instead, a mutation that lost on a key joins that key's line and re-runs only when
it reaches the front; the one at the front keeps its place (and re-runs at once) however
often it loses again, until it commits or fails, and then hands the key to the next.
So each commit of a hot key is followed by one re-run, not by all of them.

Nothing here decides what commits: every re-run is validated by the committer as any
transaction is (serializability is untouched). A line only orders re-runs. A mutation
holds at most one key's turn and waits for a turn only while holding none, so lines
cannot deadlock, provided no run waits, while it holds a turn, for another top-level
transaction: none does (a mutation's nested calls run in its own transaction; only
actions start transactions of their own, and they hold no turn). A cancelled waiter
leaves its line, or passes the turn on if it had just been given it.

A line also takes newcomers. The previous winner's next call (a closed loop of
increments) used to run beside the front's re-run, and one of the two lost: two handler
runs per increment. So each function name remembers the key it last lost on
(:meth:`learn`); a new run of that function, while that key's line is busy
(:meth:`busy_key`), lines up before its first run. The guess is checked after the run:
if the run did not read the key it waited for, it gives the turn on at once and the
guess is dropped (:meth:`forget`), so a function that touches a hot document only
sometimes pays at most one needless wait per guess, never a wrong result.

Lining up is pessimism, and it must not outlive its cause. A function that reads a key
others rarely write (every insert reads its table's catalog entry, written once when
the table was made) lost on it once; had its runs kept lining up while the line was
busy, the line would never have drained under a closed loop of callers, and inserts
would have gone one per fsync for good (measured: 0.3x instead of 2x raw commits). So
a guess is good for ``PROBE_EVERY`` lined-up runs; then one run goes without waiting.
If it commits at its first run, no race is being lost and the guess is dropped
(:meth:`ran_free`); if it loses, :meth:`learn` renews the guess. A hot counter pays one
lost run per ``PROBE_EVERY`` increments for the check.
"""

from __future__ import annotations

import asyncio
from collections import deque

from pyconvex.database.reads import WrittenKey

PROBE_EVERY = 8
"""Lined-up first runs per guess before one runs without waiting (see above)."""


class _Guess:
    """The key a function last lost its race on, and the lined-up first runs left before
    one runs without waiting to check it."""

    __slots__ = ("key", "left")

    def __init__(self, key: WrittenKey) -> None:
        self.key = key
        self.left = PROBE_EVERY


class ConflictLines:
    """The lines of one database's re-runs, keyed by the index key they lost on."""

    __slots__ = ("_guesses", "_lines", "lined_first", "wrong_guesses")

    def __init__(self) -> None:
        # A key is present while some re-run holds its turn; the deque holds the
        # re-runs waiting behind it, in the order they lost.
        self._lines: dict[WrittenKey, deque[asyncio.Future[None]]] = {}
        # Function name -> its guess (one per function, so bounded by their number).
        self._guesses: dict[str, _Guess] = {}
        self.lined_first = 0
        """Runs that lined up before their first run (a busy key guessed right or wrong)."""
        self.wrong_guesses = 0
        """Of those, runs that did not read the key they waited for."""

    def learn(self, name: str, key: WrittenKey) -> None:
        """A run of ``name`` lost its race on ``key``: its next runs may line up first."""
        self._guesses[name] = _Guess(key)

    def ran_free(self, name: str) -> None:
        """A run of ``name`` that did not line up committed at its first run: if its
        guess was used up (this run was the check) and no run of ``name`` has lost a
        race since (which renews the guess), nothing is being raced for: stop guessing."""
        guess = self._guesses.get(name)
        if guess is not None and guess.left == 0:
            del self._guesses[name]

    def guess(self, name: str) -> WrittenKey | None:
        """The key ``name`` last lost its race on, unless dropped since (tests, metrics)."""
        guess = self._guesses.get(name)
        return guess.key if guess is not None else None

    def busy_key(self, name: str) -> WrittenKey | None:
        """The key a new run of ``name`` should line up for before running: the one it
        last lost on, while some run holds that key's turn; else None (run at once)."""
        guess = self._guesses.get(name)
        if guess is None or guess.key not in self._lines:
            return None
        if guess.left == 0:
            return None  # this run checks whether the race is still on
        guess.left -= 1
        return guess.key

    def forget(self, name: str, key: WrittenKey) -> None:
        """A run of ``name`` waited for ``key`` and did not read it: stop guessing."""
        self.wrong_guesses += 1
        guess = self._guesses.get(name)
        if guess is not None and guess.key == key:
            del self._guesses[name]

    def __len__(self) -> int:
        """Keys with a re-run holding their turn (tests, metrics)."""
        return len(self._lines)

    def waiting(self, key: WrittenKey) -> int:
        """Re-runs queued behind the holder of ``key``."""
        line = self._lines.get(key)
        return 0 if line is None else sum(1 for f in line if not f.done())

    async def take_turn(self, key: WrittenKey) -> bool:
        """Return once the caller holds ``key``'s turn (at once if nobody did); the
        caller must :meth:`release` it. Returns whether it had to wait."""
        line = self._lines.get(key)
        if line is None:
            self._lines[key] = deque()
            return False
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        line.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release(key)  # handed the turn while being cancelled: pass it on
            else:
                turn.cancel()  # release() skips it
            raise
        return True

    def release(self, key: WrittenKey) -> None:
        """The holder of ``key``'s turn is done: the next in line (if any) gets it."""
        line = self._lines.get(key)
        if line is None:
            return
        while line:
            turn = line.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        del self._lines[key]
