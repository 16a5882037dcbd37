"""The deployed code, kept in the ``_modules`` system table.

``pyconvex deploy`` uploads a functions directory; storing its files in the database
(one document per file, replaced in one transaction) makes the deployed code survive
restarts and lets every process of a deployment load the same code.
"""

from __future__ import annotations

from pyconvex.database.catalog import MODULES_TABLE
from pyconvex.database.database import Database
from pyconvex.errors import OccConflict


async def read_modules(db: Database) -> dict[str, bytes]:
    """``{relative path: source}`` of the deployed code (empty if nothing was deployed)."""
    txn = db.begin(writable=False, limits=None)
    table = txn.catalog.tables_by_name[MODULES_TABLE]
    out: dict[str, bytes] = {}
    async for _, doc in txn.scan(table.indexes["by_path"], b"", None, "asc", 256):
        source = doc["source"]
        assert isinstance(source, bytes)
        out[str(doc["path"])] = source
    return out


async def write_modules(db: Database, files: dict[str, bytes]) -> int:
    """Replace the deployed code with ``files`` atomically; returns the commit timestamp."""
    while True:
        txn = db.begin(limits=None)
        table = txn.catalog.tables_by_name[MODULES_TABLE]
        async for _, doc in txn.scan(table.indexes["by_path"], b"", None, "asc", 256):
            await txn.update_system(str(doc["_id"]), None)
        for path, source in sorted(files.items()):
            txn.insert_system(MODULES_TABLE, {"path": path, "source": source})
        try:
            return await db.commit(txn)
        except OccConflict:
            continue
