"""``.pyconvex/``: the local deployment's files, and how other commands find it.

``pyconvex dev`` writes ``.pyconvex/deployment.json`` (URL and admin key) so that
``pyconvex run``, ``data``, ``logs``, ``env``, ``export`` and ``import`` run in the
project folder reach it without flags, as ``npx convex`` commands find their
deployment through ``.env.local``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import orjson

STATE_DIR = ".pyconvex"
INFO_FILE = "deployment.json"


@dataclass(frozen=True)
class DeploymentInfo:
    url: str
    admin_key: str


def state_dir_for(functions_dir: Path) -> Path:
    """``.pyconvex/`` next to the functions directory (the project root)."""
    return functions_dir.resolve().parent / STATE_DIR


def admin_key_for(state_dir: Path) -> str:
    """The local deployment's admin key: made once, kept (mode 600) across restarts."""
    path = state_dir / "admin_key"
    if path.exists():
        return path.read_text().strip()
    key = "pyconvex-local|" + secrets.token_hex(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def write_deployment_info(state_dir: Path, info: DeploymentInfo) -> None:
    path = state_dir / INFO_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(orjson.dumps({"url": info.url, "adminKey": info.admin_key}))
    tmp.replace(path)


def read_deployment_info(start: Path | None = None) -> DeploymentInfo | None:
    """The nearest ``.pyconvex/deployment.json`` from ``start`` (default: cwd) upwards."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        path = folder / STATE_DIR / INFO_FILE
        if path.exists():
            data = orjson.loads(path.read_bytes())
            return DeploymentInfo(str(data["url"]), str(data["adminKey"]))
    return None
