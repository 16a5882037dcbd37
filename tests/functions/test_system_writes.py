"""System documents are written only through their APIs: user code's ctx.db.delete,
patch and replace refuse them, naming the API to use."""

from __future__ import annotations

import pytest

from pyconvex.errors import InvalidQueryError
from pyconvex.testing import ConvexTest


async def _stored_row(t: ConvexTest) -> str:
    txn = t.deployment.db.begin(limits=None)
    row = txn.insert_system("_storage", {"sha256": "00", "size": 1.0, "internalId": "blob",
                                         "contentType": None})
    await t.deployment.db.commit(txn)
    return row


async def test_user_code_cannot_delete_or_patch_a_storage_row(app_dir):
    async with ConvexTest(app_dir) as t:
        row = await _stored_row(t)
        for write in (
            lambda ctx: ctx.db.delete(row),
            lambda ctx: ctx.db.patch(row, {"size": 2.0}),
            lambda ctx: ctx.db.replace(row, {"sha256": "11"}),
        ):
            with pytest.raises(InvalidQueryError, match=r"ctx\.storage\.delete") as info:
                await t.run(write)
            assert info.value.short_msg == "SystemTable"

        async def still_there(ctx):  # type: ignore[no-untyped-def]
            return await ctx.db.system.get(row)

        assert (await t.run(still_there))["size"] == 1.0
