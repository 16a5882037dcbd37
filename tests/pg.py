"""The PostgreSQL server the tests use: ``PYCONVEX_TEST_POSTGRES_URL`` (default: the
local server, trust auth, database ``test``). ``make test`` starts (or installs) one
when none is running; a test never skips PostgreSQL silently."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import psycopg
from psycopg import sql

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def base_url() -> str:
    return os.environ.get("PYCONVEX_TEST_POSTGRES_URL", DEFAULT_URL)


def schema_for(place: Path | str) -> str:
    """A schema name per test, derived from its temporary directory."""
    return "t_" + hashlib.sha256(str(place).encode()).hexdigest()[:20]


def pg_url(schema: str) -> str:
    url = base_url()
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


async def drop_schema(schema: str) -> None:
    async with await psycopg.AsyncConnection.connect(base_url(), autocommit=True) as conn:
        await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
