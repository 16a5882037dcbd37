"""Moving from Convex Auth: its password hashes and its key pairs keep working."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pyconvex.errors import ConvexError
from pyconvex.snapshot.export import export_snapshot
from pyconvex.snapshot.importer import import_snapshot
from pyconvex.testing import ConvexTest

from .conftest import APP, verifier

WEB = Path(__file__).resolve().parents[3] / "examples" / "auth" / "web"


def lucia_scrypt_hash(password: str) -> str:
    """A hash made by Convex Auth's own hasher (lucia's Scrypt, from its npm dependencies)."""
    script = f'import("lucia").then(async (m) => console.log(await new m.Scrypt().hash({json.dumps(password)})))'
    done = subprocess.run(["node", "-e", script], cwd=WEB, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


async def test_a_convex_auth_password_hash_signs_in_and_is_rehashed(t: Any) -> None:
    hashed = lucia_scrypt_hash("convex-auth-pw-1")
    assert ":" in hashed and not hashed.startswith("$argon2")

    async def imported(ctx: Any) -> None:  # what a snapshot import leaves behind
        user = await ctx.db.insert("users", {"email": "old@example.test"})
        await ctx.db.insert("authAccounts", {"userId": user, "provider": "password",
                                             "providerAccountId": "old@example.test", "secret": hashed})
    await t.run(imported)
    params = {"flow": "signIn", "email": "old@example.test"}
    with pytest.raises(ConvexError, match="Invalid credentials"):
        await t.action("auth:signIn", {"provider": "password", "params": {**params, "password": "wrong-pw-123"}})
    ok = await t.action("auth:signIn", {"provider": "password", "params": {**params, "password": "convex-auth-pw-1"}})
    assert ok["tokens"] is not None
    account = await t.run(lambda ctx: ctx.db.query("authAccounts").unique())
    assert account["secret"].startswith("$argon2id$")
    again = await t.action("auth:signIn", {"provider": "password", "params": {**params, "password": "convex-auth-pw-1"}})
    assert again["tokens"] is not None


async def test_a_key_pair_without_key_ids_still_signs_and_verifies(t: Any, auth_env: dict[str, str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # Convex Auth's `npx @convex-dev/auth` writes a JWKS whose key has no "kid".
    jwks = json.loads(auth_env["JWKS"])
    for key in jwks["keys"]:
        key.pop("kid", None)
        key.pop("alg", None)
    monkeypatch.setenv("JWKS", json.dumps({"keys": jwks["keys"]}))
    env = {**auth_env, "JWKS": json.dumps({"keys": jwks["keys"]})}
    up = await t.action("auth:signIn", {"provider": "password", "params": {
        "flow": "signUp", "email": "nokid@example.test", "password": "no-kid-pw-1"}})
    header = json.loads(base64.urlsafe_b64decode(up["tokens"]["token"].split(".")[0] + "=="))
    assert "kid" not in header
    assert (await verifier(env).verify(up["tokens"]["token"]))["issuer"] == env["CONVEX_SITE_URL"]


async def test_users_and_sessions_move_with_a_snapshot(auth_env: dict[str, str], mailbox: Any,
                                                       tmp_path: Path) -> None:
    """Export a deployment, import it into another with the same keys: the passwords and
    the signed-in sessions (refresh tokens name document ids) keep working."""
    snapshot = tmp_path / "snapshot.zip"
    async with ConvexTest(APP) as first:
        up = await first.action("auth:signIn", {"provider": "password", "params": {
            "flow": "signUp", "email": "mover@example.test", "password": "moving-pw-1"}})
        await export_snapshot(first.deployment.db, snapshot)
    async with ConvexTest(APP) as second:
        await import_snapshot(second.deployment.db, snapshot)
        refreshed = await second.action("auth:signIn", {"refreshToken": up["tokens"]["refreshToken"]})
        assert refreshed["tokens"] is not None
        again = await second.action("auth:signIn", {"provider": "password", "params": {
            "flow": "signIn", "email": "mover@example.test", "password": "moving-pw-1"}})
        env = {**auth_env, "CONVEX_SITE_URL": os.environ["CONVEX_SITE_URL"]}
        me = second.with_identity(await verifier(env).verify(again["tokens"]["token"]))
        assert (await me.query("notes:me"))["email"] == "mover@example.test"
