"""The deployment's ASGI app in this process, reached through ``httpx.ASGITransport``:
for HTTP tests that need no socket (no subprocess to start, no port to wait for). Tests
of the wire itself (WebSocket, corked connections, official clients) keep a real server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from pyconvex.deployment import Deployment
from pyconvex.server.app import create_app
from tests.conftest import APP

ADMIN_KEY = "test-admin-key"


@asynccontextmanager
async def app_client(db_path: Path, functions: Path = APP) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of a fresh SQLite deployment of ``functions``, served in-process,
    with the deployment's services started as ``pyconvex serve`` starts them."""
    deployment = await Deployment.open(f"sqlite:///{db_path}", functions)
    app = create_app(deployment, admin_key=ADMIN_KEY)
    app.state.server.ensure_started()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://127.0.0.1:3210") as client:
            yield client
    finally:
        await app.state.server.stop()
        await deployment.close()
