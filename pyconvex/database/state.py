"""Small named values a deployment keeps about itself (``_deployment_state``): the
file-URL signing key, used upload-token nonces. In the database, so every process and
every restart agree."""

from __future__ import annotations

import secrets

from pyconvex.database.catalog import DEPLOYMENT_STATE_TABLE
from pyconvex.database.database import Database
from pyconvex.database.query import Query
from pyconvex.database.transaction import Transaction
from pyconvex.errors import OccConflict
from pyconvex.values import Document


async def find_state(txn: Transaction, key: str) -> Document | None:
    return await Query(txn, DEPLOYMENT_STATE_TABLE).with_index(
        "by_key", lambda q: q.eq("key", key)
    ).first()


async def secret_bytes(db: Database, key: str, size: int = 32) -> bytes:
    """The value under ``key``, made (random) on first use."""
    while True:
        txn = db.begin(limits=None)
        found = await find_state(txn, key)
        if found is not None and isinstance(found["value"], bytes):
            return found["value"]
        value = secrets.token_bytes(size)
        txn.insert_system(DEPLOYMENT_STATE_TABLE, {"key": key, "value": value})
        try:
            await db.commit(txn)
        except OccConflict:
            continue
        return value
