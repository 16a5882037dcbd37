"""``auth_tables`` is ``authTables`` of ``@convex-dev/auth`` (the npm package the examples
install), table for table, field for field, index for index: what makes a snapshot move
between a Convex deployment using Convex Auth and pyconvex."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from pyconvex.auth import auth_tables

WEB = Path(__file__).resolve().parents[3] / "examples" / "auth" / "web"
EXPORT = ('import("@convex-dev/auth/server").then((m) => console.log(JSON.stringify('
          'Object.fromEntries(Object.entries(m.authTables).map(([name, t]) => [name, t.export()])))))')


def test_auth_tables_are_convex_auths_tables() -> None:
    done = subprocess.run(["node", "-e", EXPORT], cwd=WEB, capture_output=True, text=True, timeout=60,
                          check=True)
    theirs = json.loads(done.stdout)
    ours = {name: table.to_json() for name, table in auth_tables.items()}
    assert sorted(ours) == sorted(theirs) == sorted([
        "users", "authSessions", "authAccounts", "authRefreshTokens", "authVerificationCodes",
        "authVerifiers", "authRateLimits"])
    for name in theirs:
        assert ours[name]["documentType"] == theirs[name]["documentType"], name
        assert ours[name]["indexes"] == theirs[name]["indexes"], name
