"""Log streams: every function execution (and the server's own warnings and errors)
sent to another system, as Convex's log streams do.

Sinks: a webhook (JSON arrays of events), OpenTelemetry (OTLP/HTTP logs, see
``log_streams_otlp``) and JSON-lines files or stdout. Events follow Convex's log-stream
event schema (``topic``, ``timestamp`` in ms,
``function: {type, path, cached, request_id}``, ``execution_time_ms``, ``status``,
``error_message``, ``usage: {...}``) so a pipeline built for Convex reads them; two
additions are pyconvex's own: a ``traceback`` field on a failed execution, and the
``server_log`` topic for the server's log records at WARNING and above.

Each sink has its own bounded buffer and delivery task. The server never waits for a
sink: ``offer`` appends or, when the buffer is full (the receiver is down or slower
than the deployment), drops the event and counts it, so a dead receiver costs a
fixed amount of memory, never the server's latency. Deliveries are batched (up to
``batch_size`` events, or whatever arrived within ``flush_interval_s``) and a failed
batch is retried with exponential back-off; a batch that still fails after
``max_attempts`` (or that the receiver rejects as malformed, 4xx other than 408/429)
is dropped and counted.

The configuration is kept in the deployment (``_deployment_state``, key
``logStreams``), so every restart and every process serving the deployment streams to
the same places; ``pyconvex serve --log-stream`` adds sinks for one process only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sys
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from pyconvex.database import Database
from pyconvex.database.catalog import DEPLOYMENT_STATE_TABLE
from pyconvex.database.state import find_state
from pyconvex.errors import BadRequestError, OccConflict
from pyconvex.functions import ExecutionRecord
from pyconvex.functions.runtime.failures import failure_fields
from pyconvex.functions.runtime.journal import Journal, JournalObserver
from pyconvex.functions.runtime.logs import OutsideFunctions
from pyconvex.server import log_streams_otlp

log = logging.getLogger("pyconvex.log_streams")

STATE_KEY = "logStreams"
KINDS: tuple[str, ...] = ("webhook", "otlp", "jsonl")
HTTP_KINDS = ("webhook", "otlp")
LEVELS = {"LOG", "DEBUG", "INFO", "WARN", "ERROR"}
MAX_BACKOFF_S = 30.0


class LogStreamConfigError(BadRequestError):
    short_msg = "BadLogStream"


@dataclass(frozen=True)
class SinkConfig:
    """One destination. ``target``: a URL (webhook) or a file path, ``-`` for stdout
    (jsonl)."""

    kind: str
    target: str
    id: str = ""
    batch_size: int = 100
    flush_interval_s: float = 1.0
    max_buffer: int = 10_000
    max_attempts: int = 6
    initial_backoff_s: float = 0.5
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise LogStreamConfigError(
                f"Unknown log stream kind {self.kind!r}: use one of {', '.join(KINDS)}."
            )
        if not self.target:
            raise LogStreamConfigError(f"A {self.kind} log stream needs a target (URL or path).")
        if self.kind in HTTP_KINDS and not self.target.startswith(("http://", "https://")):
            raise LogStreamConfigError(
                f"A {self.kind} log stream needs an http:// or https:// URL, got {self.target!r}"
                + (" (an OTLP/HTTP logs endpoint, e.g. http://collector:4318/v1/logs)."
                   if self.kind == "otlp" else ".")
            )
        for name, minimum in (("batch_size", 1), ("max_buffer", 1), ("max_attempts", 1)):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < minimum:
                raise LogStreamConfigError(f"{name} must be an integer >= {minimum}.")
        if self.flush_interval_s <= 0 or self.initial_backoff_s <= 0:
            raise LogStreamConfigError("flush_interval_s and initial_backoff_s must be > 0.")
        if not self.id:
            object.__setattr__(self, "id", secrets.token_hex(4))

    @staticmethod
    def parse(spec: str) -> SinkConfig:
        """``webhook:https://host/path``, ``otlp:http://collector:4318/v1/logs`` or
        ``jsonl:/var/log/fn.jsonl`` (``jsonl:-``: stdout); the ``--log-stream`` option's
        form."""
        kind, sep, target = spec.partition(":")
        if not sep:
            raise LogStreamConfigError(
                f"Log stream {spec!r}: expected KIND:TARGET, e.g. webhook:https://logs.example/in "
                "or jsonl:- (stdout)."
            )
        return SinkConfig(kind, target)

    @staticmethod
    def from_json(data: Any) -> SinkConfig:
        if not isinstance(data, dict):
            raise LogStreamConfigError("A log stream must be a JSON object.")
        known = set(SinkConfig.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise LogStreamConfigError(
                f"Unknown log stream field(s): {', '.join(sorted(unknown))} "
                f"(known: {', '.join(sorted(known))})."
            )
        try:
            return SinkConfig(**data)
        except TypeError as e:
            raise LogStreamConfigError(f"Bad log stream: {e}.") from None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------ events
def execution_events(record: ExecutionRecord) -> list[dict[str, Any]]:
    """One ``console`` event per log line, then the ``function_execution`` event."""
    kind = "http_action" if record.kind == "http" else record.kind  # Convex's name for it
    function = {"type": kind, "path": record.path, "cached": False,
                "request_id": record.request_id}
    events: list[dict[str, Any]] = []
    for line in record.log_lines:
        level, message = "LOG", line
        if line.startswith("[") and "] " in line:
            head, _, rest = line.partition("] ")
            if head[1:] in LEVELS:
                level, message = head[1:], rest
        events.append({"topic": "console", "timestamp": int(record.started_ms),
                       "function": function, "log_level": level, "message": message,
                       "is_truncated": False})
    event: dict[str, Any] = {
        "topic": "function_execution",
        "timestamp": int(record.started_ms + record.duration_ms),
        "function": function,
        "execution_time_ms": round(record.duration_ms, 3),
        "status": "failure" if record.error is not None else "success",
        "usage": {
            "database_read_documents": record.docs_read,
            "database_read_bytes": record.bytes_read,
            "database_write_documents": record.docs_written,
            "database_write_bytes": record.bytes_written,
        },
    }
    if record.error is not None:
        event["error_message"] = record.error
        event["traceback"] = record.traceback
    events.append(event)
    return events


def server_log_event(record: logging.LogRecord, formatter: logging.Formatter) -> dict[str, Any]:
    event: dict[str, Any] = {
        "topic": "server_log",
        "timestamp": int(record.created * 1000),
        "level": record.levelname.lower(),
        "logger": record.name,
    }
    event["message"] = record.getMessage()
    if record.exc_info:
        event["traceback"] = formatter.formatException(record.exc_info)
    return event


# ------------------------------------------------------------------- sinks
class Sink:
    """A bounded buffer and the task that delivers it."""

    def __init__(self, config: SinkConfig, *, persistent: bool) -> None:
        self.config = config
        self.persistent = persistent
        self._buffer: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._file: Any = None
        self.sent = 0
        self.dropped = 0
        self.failed_attempts = 0
        self.last_error: str | None = None

    def start(self) -> None:
        if self.config.kind in HTTP_KINDS:
            self._client = httpx.AsyncClient(timeout=10.0, headers=self.config.headers)
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"log-stream-{self.config.id}"
        )

    def offer(self, event: dict[str, Any]) -> None:
        if len(self._buffer) >= self.config.max_buffer:
            self.dropped += 1
            return
        self._buffer.append(event)
        self._idle.clear()
        if len(self._buffer) == 1 or len(self._buffer) >= self.config.batch_size:
            self._wake.set()  # start the flush interval, or send a full batch now

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def stats(self) -> dict[str, Any]:
        return {**self.config.to_json(), "persistent": self.persistent, "sent": self.sent,
                "dropped": self.dropped, "buffered": self.buffered,
                "failedAttempts": self.failed_attempts, "lastError": self.last_error}

    async def flushed(self, timeout: float) -> bool:
        """Wait until everything offered so far was delivered or dropped."""
        self._wake.set()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self, timeout: float = 5.0) -> None:
        """Deliver what is buffered (for at most ``timeout``), then stop."""
        if self._task is not None:
            await self.flushed(timeout)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
        if self._file is not None and self._file is not sys.stdout:
            self._file.close()
        self._file = None

    async def _run(self) -> None:
        while True:
            if not self._buffer:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            if len(self._buffer) < self.config.batch_size:
                self._wake.clear()  # a full batch (or ``flushed``) ends the wait early
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.config.flush_interval_s)
            n = min(len(self._buffer), self.config.batch_size)
            batch = [self._buffer.popleft() for _ in range(n)]
            if batch:
                await self._deliver_with_retries(batch)

    async def _deliver_with_retries(self, batch: list[dict[str, Any]]) -> None:
        delay = self.config.initial_backoff_s
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                retry = await self._deliver(batch)
            except Exception as e:  # network, disk: retried
                retry, self.last_error = True, f"{type(e).__name__}: {e}"
            else:
                if retry is None:
                    self.sent += len(batch)
                    return
            self.failed_attempts += 1
            if not retry or attempt == self.config.max_attempts:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)
        self.dropped += len(batch)
        with OutsideStreams.active():
            log.warning("log stream %s (%s %s) dropped %d events: %s", self.config.id,
                        self.config.kind, self.config.target, len(batch), self.last_error)

    async def _deliver(self, batch: list[dict[str, Any]]) -> bool | None:
        """None when delivered; else whether the failure is worth a retry."""
        if self.config.kind == "jsonl":
            data = b"".join(orjson.dumps(e, default=str) + b"\n" for e in batch)
            await asyncio.to_thread(self._write, data)
            return None
        assert self._client is not None
        if self.config.kind == "otlp":
            body, content_type = log_streams_otlp.encode(batch), log_streams_otlp.CONTENT_TYPE
        else:
            body, content_type = orjson.dumps(batch, default=str), "application/json"
        response = await self._client.post(self.config.target, content=body,
                                           headers={"content-type": content_type})
        if response.is_success:
            return None
        self.last_error = f"HTTP {response.status_code}: {response.text[:200]}"
        return response.status_code >= 500 or response.status_code in (408, 429)

    def _write(self, data: bytes) -> None:
        if self._file is None:
            if self.config.target == "-":
                self._file = sys.stdout
            else:
                path = Path(self.config.target)
                path.parent.mkdir(parents=True, exist_ok=True)
                self._file = path.open("ab")
        if self._file is sys.stdout:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        else:
            self._file.write(data)
            self._file.flush()


class OutsideStreams(logging.Filter):
    """Keeps the sinks' own complaints out of the sinks (a dead receiver would
    otherwise be sent a report of its own death, forever)."""

    _depth = 0

    @classmethod
    @contextlib.contextmanager
    def active(cls) -> Any:
        cls._depth += 1
        try:
            yield
        finally:
            cls._depth -= 1

    def filter(self, record: logging.LogRecord) -> bool:
        return OutsideStreams._depth == 0 and record.name != log.name


class _ServerLogHandler(logging.Handler):
    def __init__(self, streams: LogStreams) -> None:
        super().__init__(logging.WARNING)
        self.streams = streams
        self.addFilter(OutsideFunctions())
        self.addFilter(OutsideStreams())
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        if failure_fields(record) is not None:
            return  # a function failure: its function_execution event carries it
        try:
            event = server_log_event(record, self._formatter)
        except Exception:
            return
        loop = self.streams.loop
        if loop is None:
            return
        try:
            same_loop = asyncio.get_running_loop() is loop
        except RuntimeError:  # a worker thread (to_thread, a driver's pool) logged it
            same_loop = False
        if same_loop:
            self.streams.offer([event])
        elif not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self.streams.offer, [event])


# ----------------------------------------------------------------- streams
class LogStreams(JournalObserver):
    """The deployment's sinks, fed by the function runner and the root logger."""

    def __init__(self, db: Database, extra: list[SinkConfig] | None = None) -> None:
        self.db = db
        self.sinks: dict[str, Sink] = {}
        self._extra = list(extra or [])
        self._handler = _ServerLogHandler(self)
        self.loop: asyncio.AbstractEventLoop | None = None
        """The loop the sinks run on: records logged from other threads are handed to it."""
        self._journal = None

    def attach(self, journal: Journal) -> None:
        """Take a runner's executions from its journal, within the loop step each
        finishes in while there is a sink (``functions/runtime/journal.py``)."""
        super().attach(journal)
        self._want_prompt()

    def _want_prompt(self) -> None:
        if self._journal is not None:
            self._journal.want_prompt(self, bool(self.sinks))

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        for config in self._extra:
            self._add(config, persistent=False)
        try:
            stored = await load_configs(self.db)
        except Exception:  # the server runs on; /ready reports the database
            log.exception("could not load the deployment's log streams")
            stored = []
        for config in stored:
            self._add(config, persistent=True)
        logging.getLogger().addHandler(self._handler)

    async def stop(self) -> None:
        logging.getLogger().removeHandler(self._handler)
        sinks, self.sinks = list(self.sinks.values()), {}
        self._want_prompt()
        await asyncio.gather(*(s.close() for s in sinks))

    def _add(self, config: SinkConfig, *, persistent: bool) -> Sink:
        sink = Sink(config, persistent=persistent)
        sink.start()
        self.sinks[config.id] = sink
        self._want_prompt()
        return sink

    def offer(self, events: list[dict[str, Any]]) -> None:
        for sink in self.sinks.values():
            for event in events:
                sink.offer(event)

    def on_executions(self, records: list[ExecutionRecord]) -> None:
        """A journal consumer: each execution's events to every sink."""
        if self.sinks:
            for record in records:
                self.offer(execution_events(record))

    async def add(self, config: SinkConfig) -> Sink:
        """Add a sink and keep it in the deployment."""
        if config.id in self.sinks:
            raise LogStreamConfigError(f"There is already a log stream with id {config.id!r}.")
        configs = await load_configs(self.db)
        await save_configs(self.db, [*configs, config])
        return self._add(config, persistent=True)

    async def remove(self, sink_id: str) -> None:
        sink = self.sinks.get(sink_id)
        if sink is None:
            raise LogStreamConfigError(
                f"There is no log stream {sink_id!r} (pyconvex log-streams list shows them).",
            )
        if sink.persistent:
            configs = await load_configs(self.db)
            await save_configs(self.db, [c for c in configs if c.id != sink_id])
        del self.sinks[sink_id]
        self._want_prompt()
        await sink.close()

    def stats(self) -> list[dict[str, Any]]:
        return [s.stats() for s in self.sinks.values()]


async def load_configs(db: Database) -> list[SinkConfig]:
    txn = db.begin(writable=False, limits=None)
    found = await find_state(txn, STATE_KEY)
    if found is None or not isinstance(found.get("value"), str):
        return []
    configs = []
    for data in orjson.loads(str(found["value"])):
        try:
            configs.append(SinkConfig.from_json(data))
        except LogStreamConfigError as e:  # written by another version: skip, say so
            log.warning("ignoring a stored log stream: %s", e.message)
    return configs


async def save_configs(db: Database, configs: list[SinkConfig]) -> None:
    value = orjson.dumps([c.to_json() for c in configs]).decode()
    for _ in range(8):
        txn = db.begin(limits=None)
        found = await find_state(txn, STATE_KEY)
        if found is None:
            txn.insert_system(DEPLOYMENT_STATE_TABLE, {"key": STATE_KEY, "value": value})
        else:
            await txn.update_system(str(found["_id"]), {**found, "value": value})
        try:
            await db.commit(txn)
            return
        except OccConflict:
            await asyncio.sleep(0.01)
    raise LogStreamConfigError("The deployment kept changing while saving log streams; retry.")
