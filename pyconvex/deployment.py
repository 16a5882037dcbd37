"""One deployment assembled: persistence, database, functions, and (later) services.

``Deployment.open`` is the single place that wires the layers together; the server,
the CLI and :mod:`pyconvex.testing` all start a deployment through it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyconvex.database import Clock, Database, SchemaPushResult, push_schema, wall_clock_ms
from pyconvex.functions import FunctionRunner, Registry, load_functions, unload
from pyconvex.persistence import open_persistence


class Deployment:
    def __init__(self, db: Database, runner: FunctionRunner, functions_dir: Path | None) -> None:
        self.db = db
        self.runner = runner
        self.functions_dir = functions_dir

    @classmethod
    async def open(
        cls,
        db_url: str,
        functions_dir: str | Path | None = None,
        *,
        clock: Clock = wall_clock_ms,
    ) -> Deployment:
        persistence = await open_persistence(db_url)
        try:
            db = await Database.open(persistence, clock=clock)
        except BaseException:
            await persistence.close()
            raise
        registry = Registry()
        self = cls(db, FunctionRunner(db, registry), None)
        if functions_dir is not None:
            try:
                await self.load(functions_dir)
            except BaseException:
                await self.close()
                raise
        return self

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
            if registry.schema is not None:
                result = await push_schema(self.db, registry.schema)
        except BaseException:
            unload(registry)
            raise
        old = self.runner.registry
        self.runner.registry = registry
        self.functions_dir = path
        unload(old)
        return result

    async def close(self) -> None:
        unload(self.runner.registry)
        await self.db.close()

    async def __aenter__(self) -> Deployment:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
