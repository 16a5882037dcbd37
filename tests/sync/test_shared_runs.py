"""Shared live-query runs are keyed by the whole identity: two tokens of one user that
differ in a claim never receive each other's results."""

from __future__ import annotations

import textwrap
from pathlib import Path

from pyconvex.sync import SubscriptionManager, format_function_error
from pyconvex.testing import ConvexTest

BASE = {"tokenIdentifier": "https://issuer.example|ann", "subject": "ann",
        "issuer": "https://issuer.example"}


async def test_tokens_of_one_user_with_other_claims_get_their_own_results(tmp_path: Path):
    functions = tmp_path / "convex"
    functions.mkdir()
    (functions / "who.py").write_text(textwrap.dedent('''
        from pyconvex import query

        @query
        async def role(ctx):
            identity = await ctx.auth.get_user_identity()
            return identity.get("role") if identity else None
    '''))
    async with ConvexTest(functions) as t:
        manager = SubscriptionManager(t.deployment.db, t.deployment.runner, format_function_error)
        manager.start()
        try:
            admin = await manager.subscribe("who:role", {}, {**BASE, "role": "admin"})
            user = await manager.subscribe("who:role", {}, {**BASE, "role": "user"})
            same = await manager.subscribe("who:role", {}, {"role": "admin", **BASE})
            assert admin is not user and admin is same  # claim order does not matter
            assert admin.value_json == "admin" and user.value_json == "user"
        finally:
            await manager.stop()


async def test_an_admin_may_subscribe_to_an_internal_query_and_shares_it_with_no_one(
    tmp_path: Path,
):
    functions = tmp_path / "convex"
    functions.mkdir()
    (functions / "stats.py").write_text(textwrap.dedent('''
        from pyconvex import internal_query

        @internal_query
        async def secret(ctx):
            return "internal numbers"
    '''))
    async with ConvexTest(functions) as t:
        manager = SubscriptionManager(t.deployment.db, t.deployment.runner, format_function_error)
        manager.start()
        try:
            admin = await manager.subscribe("stats:secret", {}, None, internal_ok=True)
            public = await manager.subscribe("stats:secret", {}, None)
            assert admin is not public
            assert admin.outcome is not None and admin.outcome.error is None
            assert admin.value_json == "internal numbers"
            assert public.outcome is not None and public.outcome.error is not None
            assert "Could not find public function" in public.outcome.error[0]
        finally:
            await manager.stop()
