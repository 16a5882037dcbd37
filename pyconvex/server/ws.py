"""The WebSocket shell around :class:`SyncSession`: frames in, frames out.

Text frames carry one JSON message each. A malformed or out-of-order message closes only
this connection, with a FatalError naming the problem; everyone else keeps being served.
The server pings after 15 s without sending anything (clients drop a silent server).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from pyconvex.protocol import ProtocolError, encode_server_message, parse_client_message
from pyconvex.server.state import ServerState
from pyconvex.sync import CloseAfterAuthError, SyncSession

log = logging.getLogger("pyconvex.server")
PING_AFTER_S = 15.0


def _reason(text: str) -> str:
    return text.encode("utf-8")[:120].decode("utf-8", "ignore")


async def sync_endpoint(websocket: WebSocket) -> None:
    state: ServerState = websocket.app.state.server
    manager = state.ensure_started()
    await websocket.accept()
    send_lock = asyncio.Lock()

    async def send(message: dict[str, Any]) -> None:
        text = encode_server_message(message)
        async with send_lock:
            await websocket.send_text(text)

    session = SyncSession(
        manager,
        state.deployment.runner,
        send,
        mutation_log=state.mutation_log,
        admin_key=state.admin_key,
        verify_token=state.verify,
    )
    session.start()
    pinger = asyncio.get_running_loop().create_task(_ping(session))
    close_code, close_reason = 1000, ""
    try:
        while True:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                break
            text = frame.get("text")
            if text is None:
                raise ProtocolError("binary frames are not supported; send JSON text frames")
            await session.handle(dict(parse_client_message(text)))
    except ProtocolError as e:
        close_code, close_reason = 1008, _reason(e.message)
        with contextlib.suppress(Exception):
            await send({"type": "FatalError", "error": e.message})
    except CloseAfterAuthError as e:
        close_code, close_reason = 1000, _reason(str(e))
    except WebSocketDisconnect:
        pass
    except Exception:
        log.exception("sync connection failed")
        close_code, close_reason = 1011, "InternalServerError"
    finally:
        pinger.cancel()
        with contextlib.suppress(BaseException):
            await pinger
        await session.close()
        if websocket.application_state != WebSocketState.DISCONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close(close_code, close_reason)


async def _ping(session: SyncSession) -> None:
    while True:
        await asyncio.sleep(PING_AFTER_S / 3)
        if time.monotonic() - session.last_send >= PING_AFTER_S:
            await session.send({"type": "Ping"})
