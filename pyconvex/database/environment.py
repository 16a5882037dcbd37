"""Deployment environment variables, kept in the ``_environment_variables`` system table.

They live in the database (not in a file next to the server) so every process of a
deployment, and every restart, sees the same values; the deployment layer mirrors them
into ``os.environ`` where functions read them.
"""

from __future__ import annotations

import re

from pyconvex.database.catalog import ENVIRONMENT_VARIABLES_TABLE
from pyconvex.database.database import Database
from pyconvex.errors import BadRequestError, OccConflict
from pyconvex.values import Document

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_NAME = 40
MAX_VALUE = 8 * 1024
MAX_VARIABLES = 100


class EnvironmentVariableError(BadRequestError):
    short_msg = "InvalidEnvironmentVariable"


def check_name(name: str) -> None:
    if not isinstance(name, str) or not NAME.match(name) or len(name) > MAX_NAME:
        raise EnvironmentVariableError(
            f"Invalid environment variable name {name!r}: use letters, digits and '_', not "
            f"starting with a digit, at most {MAX_NAME} characters."
        )


async def list_environment(db: Database) -> dict[str, str]:
    txn = db.begin(writable=False)
    table = txn.catalog.tables_by_name[ENVIRONMENT_VARIABLES_TABLE]
    out: dict[str, str] = {}
    async for _, doc in txn.scan(table.indexes["by_name"], b"", None, "asc", 256):
        out[str(doc["name"])] = str(doc["value"])
    return out


async def set_environment(db: Database, changes: dict[str, str | None]) -> dict[str, str]:
    """Set (value) or remove (None) variables in one transaction; returns the new set."""
    for name, value in changes.items():
        check_name(name)
        if value is not None and (not isinstance(value, str) or len(value.encode()) > MAX_VALUE):
            raise EnvironmentVariableError(
                f"Environment variable {name}: the value must be a string of at most "
                f"{MAX_VALUE} bytes."
            )
    for _ in range(16):
        txn = db.begin()
        table = txn.catalog.tables_by_name[ENVIRONMENT_VARIABLES_TABLE]
        current: dict[str, tuple[str, Document]] = {}
        async for _, doc in txn.scan(table.indexes["by_name"], b"", None, "asc", 256):
            current[str(doc["name"])] = (str(doc["_id"]), doc)
        for name, value in changes.items():
            existing = current.get(name)
            if value is None:
                if existing is not None:
                    await txn.update_system(existing[0], None)
            elif existing is not None:
                await txn.update_system(existing[0], {**existing[1], "value": value})
            else:
                txn.insert_system(ENVIRONMENT_VARIABLES_TABLE, {"name": name, "value": value})
        result = {n: str(d["value"]) for n, (_, d) in current.items()}
        for name, value in changes.items():
            if value is None:
                result.pop(name, None)
            else:
                result[name] = value
        if len(result) > MAX_VARIABLES:
            raise EnvironmentVariableError(
                f"A deployment holds at most {MAX_VARIABLES} environment variables."
            )
        try:
            await db.commit(txn)
        except OccConflict:
            continue
        return result
    raise EnvironmentVariableError("Environment variables kept changing concurrently; retry.")
