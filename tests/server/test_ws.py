"""The sync endpoint's shell (server/ws.py): a frame sent with ``more`` is kept and goes
out with the next one, in order, whether the two are written at once or, when the
connection cannot take them so (permessage-deflate), through ASGI; a fan-out frame
never overtakes a kept one."""

from __future__ import annotations

from typing import Any

import pytest

from pyconvex.protocol import encode_server_frame
from pyconvex.server.ws import _Shell
from tests.server.test_corked import ws_frames_received

RESPONSE: Any = {"type": "MutationResponse", "requestId": 1, "success": True, "result": "k1",
                 "ts": 5, "logLines": []}
TRANSITION: Any = {"type": "Transition", "startVersion": {"querySet": 0, "identity": 0, "ts": 0},
                   "endVersion": {"querySet": 0, "identity": 0, "ts": 5}, "modifications": [],
                   "serverTs": 7}
PING = encode_server_frame({"type": "Ping"})


@pytest.mark.parametrize("compression", [None, "deflate"])
async def test_a_kept_frame_goes_out_first_with_the_next_one(compression: str | None) -> None:
    returned: list[Any] = []

    async def body(scope: dict[str, Any], send: Any) -> None:
        shell = _Shell(send, scope["extensions"]["pyconvex.send_text"])
        returned.append(shell.send_message(RESPONSE, more=True))  # kept: nothing to await
        returned.append(shell.send_frame(PING))  # a fan-out frame may not pass it
        sending = shell.send_message(TRANSITION)
        returned.append(sending)
        if sending is not None:
            await sending
        returned.append(shell.send_frame(PING))
        await send({"type": "websocket.close", "code": 1000})

    got = await ws_frames_received(body, compression, 2 if compression else 3)
    expected = [encode_server_frame(RESPONSE).decode(), encode_server_frame(TRANSITION).decode()]
    if compression is None:  # written at once, both in one call; then the ping
        assert returned == [None, False, None, True]
        assert got == [*expected, PING.decode()]
    else:  # declined at once: both through ASGI, in order (and no fan-out frame)
        assert returned[:2] == [None, False] and returned[2] is not None
        assert returned[3] is False
        assert got == expected
