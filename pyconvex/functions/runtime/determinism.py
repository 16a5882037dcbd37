"""Deterministic queries and mutations, as Convex defines them.

A query's result is cached and shared by every subscriber, and a mutation may run
again after a conflict: both must be functions of their snapshot and arguments. Within
one execution (per task, through a context variable, so concurrent functions never see
each other's state and actions and the server's own code are unaffected):

- ``random``'s module functions draw from a generator seeded from the function's path,
  arguments and snapshot timestamp: two runs at the same snapshot draw the same numbers;
- ``time.time()`` / ``time.time_ns()`` and, in the functions' own modules,
  ``datetime.datetime.now()`` / ``utcnow()`` / ``today()`` and ``datetime.date.today()``
  return the execution's start time, frozen (like ``Date.now()`` in Convex);
- writing a file, starting a subprocess or a thread raises :class:`NondeterminismError`
  naming the call (network I/O is refused by ``guard.py``).

``datetime.datetime`` is a C type whose methods cannot be replaced, and replacing the
class process-wide breaks pickling of every datetime; so the functions' modules get a
``datetime`` whose ``now()`` looks at the context variable (:func:`freeze_module_clock`,
applied by the loader), while the rest of the process keeps the real class.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import hashlib
import io
import os
import random as _random
import subprocess
import threading
import time as _time
import types
from contextvars import ContextVar
from typing import Any

import orjson

from pyconvex.errors import NondeterminismError

_RANDOM_FUNCTIONS = (
    "random", "uniform", "triangular", "randint", "choice", "randrange", "sample", "shuffle",
    "choices", "normalvariate", "lognormvariate", "expovariate", "vonmisesvariate",
    "gammavariate", "gauss", "betavariate", "paretovariate", "weibullvariate", "getrandbits",
    "randbytes",
)


def refused(who: str, what: str) -> NondeterminismError:
    """The error for ``what`` (a call) made by the query or mutation ``who``."""
    return NondeterminismError(
        f"{who}: {what} is not allowed in queries and mutations, which must be "
        "deterministic. Move it to an action (ctx.run_mutation can save the result)."
    )


class Frozen:
    """One query's or mutation's clock and random source; in a mutation's handler also
    its request id (``request_id``) and the name the I/O guard refuses in (``name``).

    Why those two ride here: a client's mutation runs its handler in a context of its
    own (``execution.enter_mutation``), where each context variable set costs about
    1,300 instructions (a new HAMT and a token). The I/O guard and ``ctx.meta`` read
    ``forbid_io`` and ``request_id_var`` first and this state when those are unset, so
    the handler's context sets this one variable instead of all three. (``request_id``
    is None where the caller's ``Scope`` set ``request_id_var``.)"""

    __slots__ = ("_rng", "_seed", "name", "now_s", "request_id")

    def __init__(self, name: str, now_ms: float, seed: tuple[Any, ...],
                 request_id: str | None = None) -> None:
        self.name = name
        self.now_s = now_ms / 1000.0
        self._seed = seed
        self._rng: _random.Random | None = None
        self.request_id = request_id

    @property
    def rng(self) -> _random.Random:
        if self._rng is None:  # seeded on first use: most functions never draw
            material = orjson.dumps(self._seed, default=repr, option=orjson.OPT_SORT_KEYS)
            self._rng = _random.Random(int.from_bytes(hashlib.sha256(material).digest()[:16]))
        return self._rng


frozen: ContextVar[Frozen | None] = ContextVar("pyconvex_frozen", default=None)


def _refuse(what: str) -> None:
    state = frozen.get()
    if state is not None:
        raise refused(state.name, what)


_installed = False


def install_determinism() -> None:
    """Patch once per process; outside a query or mutation everything behaves as before."""
    global _installed
    if _installed:
        return
    _installed = True
    _install_random()
    _install_time()
    _install_guards()


def _install_random() -> None:
    shared = _random._inst  # the module functions' instance

    def make(name: str) -> Any:
        def drawn(*args: Any, **kwargs: Any) -> Any:
            state = frozen.get()
            return getattr(state.rng if state is not None else shared, name)(*args, **kwargs)

        drawn.__name__ = drawn.__qualname__ = name
        drawn.__doc__ = getattr(shared, name).__doc__
        return drawn

    for name in _RANDOM_FUNCTIONS:
        if hasattr(shared, name):
            setattr(_random, name, make(name))


_real_time = _time.time
_real_time_ns = _time.time_ns
real_time = _real_time
"""The real ``time.time``, for the server's own records (an execution's start): the
stand-in installed below reads a context variable first, and gives a function's frozen
start time inside one."""


def _time_now() -> float:
    state = frozen.get()
    return state.now_s if state is not None else _real_time()


def _time_now_ns() -> int:
    state = frozen.get()
    return int(state.now_s * 1e9) if state is not None else _real_time_ns()


def _install_time() -> None:
    _time.time = _time_now
    _time.time_ns = _time_now_ns


# ---------------------------------------------------------------- datetime in user code
class _StandIn(type):
    """Every instance (and subclass) of the real class a stand-in replaces counts as the
    stand-in's, so ``isinstance(d, datetime.datetime)`` holds in user code either way."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, cls.__mro__[1])

    def __subclasscheck__(cls, sub: Any) -> bool:
        return issubclass(sub, cls.__mro__[1])


class FrozenDatetime(_dt.datetime, metaclass=_StandIn):
    """``datetime.datetime`` for the functions' modules: ``now()`` is frozen inside a
    query or mutation; every instance made is a real ``datetime.datetime``."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return _dt.datetime(*args, **kwargs)

    @classmethod
    def now(cls, tz: _dt.tzinfo | None = None) -> Any:
        state = frozen.get()
        return _dt.datetime.fromtimestamp(state.now_s, tz) if state else _dt.datetime.now(tz)

    @classmethod
    def utcnow(cls) -> Any:
        state = frozen.get()
        if state is None:
            return _dt.datetime.now(_dt.UTC).replace(tzinfo=None)
        return _dt.datetime.fromtimestamp(state.now_s, _dt.UTC).replace(tzinfo=None)

    @classmethod
    def today(cls) -> Any:
        return cls.now()


class FrozenDate(_dt.date, metaclass=_StandIn):
    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return _dt.date(*args, **kwargs)

    @classmethod
    def today(cls) -> Any:
        state = frozen.get()
        return _dt.date.fromtimestamp(state.now_s) if state else _dt.date.today()


_datetime_module = types.ModuleType("datetime", _dt.__doc__)
_datetime_module.__dict__.update(
    {k: v for k, v in vars(_dt).items() if not k.startswith("__")}
    | {"datetime": FrozenDatetime, "date": FrozenDate}
)


def freeze_module_clock(module: types.ModuleType) -> None:
    """Give one of the functions' modules the frozen ``datetime`` (names bound with
    ``import datetime`` or ``from datetime import datetime, date``)."""
    namespace = module.__dict__
    for name, value in list(namespace.items()):
        if value is _dt:
            namespace[name] = _datetime_module
        elif value is _dt.datetime:
            namespace[name] = FrozenDatetime
        elif value is _dt.date:
            namespace[name] = FrozenDate


# ------------------------------------------------------------ files, processes, threads
_WRITE_MODE = frozenset("wax+")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _install_guards() -> None:
    real_open = builtins.open

    def guarded_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if _WRITE_MODE.intersection(mode) and frozen.get() is not None:
            _refuse(f"writing a file (open({file!r}, {mode!r}))")
        return real_open(file, mode, *args, **kwargs)

    builtins.open = guarded_open
    io.open = guarded_open

    real_os_open = os.open

    def guarded_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & _WRITE_FLAGS and frozen.get() is not None:
            _refuse(f"writing a file (os.open({path!r}))")
        return real_os_open(path, flags, *args, **kwargs)

    os.open = guarded_os_open

    for name in ("remove", "unlink", "rename", "replace", "rmdir", "mkdir", "makedirs",
                 "truncate", "system", "fork", "posix_spawn", "posix_spawnp", "execv",
                 "execve", "kill"):
        if hasattr(os, name):
            setattr(os, name, _refusing(getattr(os, name), f"os.{name}()"))

    real_popen_init = subprocess.Popen.__init__

    def popen_init(self: Any, *args: Any, **kwargs: Any) -> None:
        _refuse("starting a subprocess")
        real_popen_init(self, *args, **kwargs)

    subprocess.Popen.__init__ = popen_init  # type: ignore[method-assign]

    real_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        _refuse(f"starting a thread ({self.name})")
        real_start(self)

    threading.Thread.start = start  # type: ignore[method-assign]


def _refusing(fn: Any, what: str) -> Any:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _refuse(what)
        return fn(*args, **kwargs)

    guarded.__name__ = getattr(fn, "__name__", what)
    guarded.__doc__ = getattr(fn, "__doc__", None)
    return guarded
