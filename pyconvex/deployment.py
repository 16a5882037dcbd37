"""One deployment assembled: persistence, database, functions, and its services (the
scheduler, file storage, search indexes, retention).

``Deployment.open`` is the single place that wires the layers together; the server,
the CLI and :mod:`pyconvex.testing` all start a deployment through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from pyconvex.database import (
    STORAGE_TABLE,
    Clock,
    Database,
    Query,
    SchemaPushResult,
    push_schema,
    wall_clock_ms,
)
from pyconvex.database.catalog import ENVIRONMENT_VARIABLES_TABLE, MODULES_TABLE
from pyconvex.database.committer import Committed
from pyconvex.database.environment import list_environment, set_environment
from pyconvex.database.modules import read_modules, write_modules
from pyconvex.database.state import secret_bytes
from pyconvex.errors import BadRequestError
from pyconvex.files import FileStore, LocalFileStore, open_file_store
from pyconvex.functions import (
    DEFAULT_FUNCTION_LIMITS,
    FunctionKind,
    FunctionLimits,
    FunctionRunner,
    Registry,
    load_functions,
    unload,
)
from pyconvex.functions.isolation import WorkerPool
from pyconvex.functions.runtime.services import DEFAULT_PUBLIC_URL, StorageService
from pyconvex.persistence import SharedLog, open_persistence
from pyconvex.scheduler import SchedulerExecutor

ChangeListener = Callable[[], None]
log = logging.getLogger("pyconvex.deployment")
ORPHAN_AGE_S = 3600.0
ORPHAN_SWEEP_S = 600.0
RETENTION_SWEEP_S = 60.0
DEFAULT_RETENTION_S = 24 * 3600.0


def _default_files(db_url: str) -> FileStore | None:
    """``sqlite:///data/app.sqlite3`` keeps its files in ``data/app-files/``."""
    if not db_url.startswith("sqlite:///"):
        return None
    db_path = Path(db_url.removeprefix("sqlite:///"))
    return LocalFileStore(db_path.parent / f"{db_path.stem}-files")


class DeployError(BadRequestError):
    short_msg = "BadDeploy"


def check_module_path(path: str) -> PurePosixPath:
    """A deployed file's path must stay inside the functions directory."""
    rel = PurePosixPath(path)
    if rel.is_absolute() or not rel.parts or any(p in ("..", "") for p in rel.parts) or "\\" in path:
        raise DeployError(f"Refusing deployed file path {path!r}: it must be relative and stay inside.")
    return rel


class Deployment:
    def __init__(
        self, db: Database, runner: FunctionRunner, functions_dir: Path | None, *,
        retention_s: float = DEFAULT_RETENTION_S,
        system_environment: dict[str, str] | None = None,
    ) -> None:
        self.db = db
        self.runner = runner
        self.functions_dir = functions_dir
        self.environment: dict[str, str] = {}
        self.system_environment: dict[str, str] = dict(system_environment or {})
        """``CONVEX_CLOUD_URL``/``CONVEX_SITE_URL``, set for functions as Convex sets
        them; a variable of the same name set with ``pyconvex env set`` wins."""
        self._listeners: list[ChangeListener] = []
        self._deployed_dir: Path | None = None
        self.scheduler = SchedulerExecutor(db, runner)
        self.retention_s = retention_s
        self._collector: asyncio.Task[None] | None = None
        self._follow_tasks: set[asyncio.Task[None]] = set()
        self.workers: WorkerPool | None = None
        if isinstance(db.persistence, SharedLog):
            db.add_listener(self._on_commit)

    @classmethod
    async def open(
        cls,
        db_url: str,
        functions_dir: str | Path | None = None,
        *,
        clock: Clock = wall_clock_ms,
        files: str | Path | None = None,
        public_url: str | None = None,
        site_url: str | None = None,
        retention_s: float = DEFAULT_RETENTION_S,
        isolate_actions: bool = False,
        limits: FunctionLimits = DEFAULT_FUNCTION_LIMITS,
    ) -> Deployment:
        """``isolate_actions``: run actions in worker processes (the server does; tests
        and ``ConvexTest`` may keep them in-process)."""
        persistence = await open_persistence(db_url)
        try:
            db = await Database.open(persistence, clock=clock)
        except BaseException:
            await persistence.close()
            raise
        cloud_url = (public_url or DEFAULT_PUBLIC_URL).rstrip("/")
        system_environment = {
            "CONVEX_CLOUD_URL": cloud_url,
            # without a site port, HTTP actions are served under /http on the main one
            "CONVEX_SITE_URL": (site_url or f"{cloud_url}/http").rstrip("/"),
        }
        try:
            environment = await list_environment(db)
            # In os.environ before the file store opens, as functions will see them (an
            # S3 store's client takes its AWS_* settings from there).
            os.environ.update({**system_environment, **environment})
            storage = StorageService(
                open_file_store(files) if files is not None else _default_files(db_url),
                public_url if public_url is not None else DEFAULT_PUBLIC_URL,
                await secret_bytes(db, "storageSigningKey"),
            )
        except BaseException:
            await db.close()
            raise
        runner = FunctionRunner(db, Registry(), limits=limits, storage=storage)
        self = cls(db, runner, None, retention_s=retention_s,
                   system_environment=system_environment)
        if isolate_actions:
            self.workers = WorkerPool(self.runner)
            self.runner.actions = self.workers
        try:
            self._apply_environment(environment)
            if functions_dir is not None:
                await self.load(functions_dir)
            else:
                modules = await read_modules(db)
                if modules:
                    await self._load_files(modules)
        except BaseException:
            await self.close()
            raise
        return self

    # ------------------------------------------------------------- listeners
    def add_change_listener(self, fn: ChangeListener) -> Callable[[], None]:
        """``fn()`` after code or environment changes: every live query must re-run."""
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn)

    def _changed(self) -> None:
        for fn in list(self._listeners):
            fn()

    # ----------------------------------------------------------- environment
    def _apply_environment(self, env: dict[str, str]) -> None:
        for name in self.environment.keys() - env.keys():
            os.environ.pop(name, None)
        os.environ.update({**self.system_environment, **env})
        self.environment = dict(env)
        if self.workers is not None and self.functions_dir is not None:
            self.workers.set_code(self.functions_dir)  # workers start with the new values

    async def set_environment(self, changes: dict[str, str | None]) -> dict[str, str]:
        """Set (or, with None, remove) variables; functions see them in ``os.environ``."""
        env = await set_environment(self.db, changes)
        self._apply_environment(env)
        self._changed()
        return env

    # ------------------------------------------------------------------ code
    async def deploy(self, files: dict[str, bytes]) -> SchemaPushResult | None:
        """Swap in uploaded code (``{relative path: bytes}``) and keep it in the database.

        Loading and the schema push happen first; on any failure the old code keeps
        serving and nothing is recorded.
        """
        result = await self._load_files(files)
        await write_modules(self.db, files)
        return result

    async def _load_files(self, files: dict[str, bytes]) -> SchemaPushResult | None:
        root = Path(tempfile.mkdtemp(prefix="pyconvex-code-")) / "convex"
        try:
            for name, data in files.items():
                target = root.joinpath(*check_module_path(name).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            root.mkdir(parents=True, exist_ok=True)
            result = await self.load(root)
        except BaseException:
            shutil.rmtree(root.parent, ignore_errors=True)
            raise
        old, self._deployed_dir = self._deployed_dir, root.parent
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return result

    @property
    def registry(self) -> Registry:
        return self.runner.registry

    async def load(self, functions_dir: str | Path) -> SchemaPushResult | None:
        """Load (or reload) the functions directory; push its schema; swap atomically.

        If loading or the schema push fails, the previous code keeps serving.
        """
        path = Path(functions_dir)
        registry = load_functions(path)
        result = None
        try:
            _check_crons(registry)
            if registry.schema is not None:
                result = await push_schema(self.db, registry.schema)
        except BaseException:
            unload(registry)
            raise
        old = self.runner.registry
        self.runner.registry = registry
        self.functions_dir = path
        unload(old)
        if self.workers is not None:
            self.workers.set_code(path)
        await self.scheduler.sync_crons(registry)
        self._changed()
        return result

    def _on_commit(self, committed: list[Committed]) -> None:
        """Another process deployed code or changed environment variables: follow it.

        Commits made by another process arrive without their documents (only the keys
        they wrote); our own deploys and changes are applied where they are made.
        """
        remote = [item for item in committed if not item.request.documents]  # not ours
        if not remote:
            return
        catalog = self.db.catalog
        modules = {i.id for i in catalog.tables_by_name[MODULES_TABLE].indexes.values()}
        env = {i.id for i in catalog.tables_by_name[ENVIRONMENT_VARIABLES_TABLE].indexes.values()}
        for item in remote:
            written = {index_id for index_id, _ in item.request.written}
            if written & modules:
                self._follow_task("modules", self._reload_modules())
            if written & env:
                self._follow_task("environment", self._reload_environment())

    def _follow_task(self, name: str, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=f"follow-{name}")
        self._follow_tasks.add(task)
        task.add_done_callback(self._follow_tasks.discard)

    async def _reload_modules(self) -> None:
        try:
            modules = await read_modules(self.db)
            if modules:
                await self._load_files(modules)
                log.info("loaded code deployed through another process")
        except Exception:
            log.exception("loading code deployed through another process failed")

    async def _reload_environment(self) -> None:
        self._apply_environment(await list_environment(self.db))
        self._changed()

    def start_background(self) -> None:
        """Start the scheduler and the orphan collector (the server does; ``ConvexTest``
        drives them by hand)."""
        self.scheduler.start()
        if self._collector is None:
            self._collector = asyncio.get_running_loop().create_task(self._collect_forever())

    async def _collect_forever(self) -> None:
        """Old versions past the retention window, and orphaned blobs, now and then."""
        last_orphans = time.monotonic()
        while True:
            await asyncio.sleep(RETENTION_SWEEP_S)
            try:
                await self.db.collect_old_versions(int(self.retention_s * 1e9))
                if time.monotonic() - last_orphans > ORPHAN_SWEEP_S:
                    last_orphans = time.monotonic()
                    await self.collect_orphans()
            except Exception:
                log.exception("background collection failed")

    async def collect_orphans(self, older_than_s: float = ORPHAN_AGE_S) -> int:
        """Delete blobs no ``_storage`` row refers to (older than ``older_than_s``, so an
        upload whose row is about to commit is never taken)."""
        store = self.runner.storage.store
        if store is None:
            return 0
        removed = 0
        for key in await store.orphan_candidates(older_than_s):
            txn = self.db.begin(writable=False, limits=None)

            def same_key(q: Any, k: str = key) -> Any:
                return q.eq("internalId", k)

            row = await Query(txn, STORAGE_TABLE).with_index("by_internal_id", same_key).first()
            if row is None:
                await store.delete(key)
                removed += 1
        return removed

    async def close(self) -> None:
        await self.scheduler.stop()
        if self.workers is not None:
            await self.workers.close()
        if self._collector is not None:
            self._collector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._collector
        unload(self.runner.registry)
        await self.db.close()
        if self._deployed_dir is not None:
            shutil.rmtree(self._deployed_dir, ignore_errors=True)
            self._deployed_dir = None

    async def __aenter__(self) -> Deployment:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


def _check_crons(registry: Registry) -> None:
    """Every cron must name a mutation or an action that exists in the same code."""
    crons = registry.crons
    for job in (crons.jobs.values() if crons is not None else ()):
        fn = registry.lookup(job.path)
        if fn is None or fn.kind is FunctionKind.QUERY:
            what = "does not exist" if fn is None else "is a query (crons run mutations and actions)"
            raise DeployError(f"crons.py: job {job.name!r} runs {job.path}, which {what}.")
