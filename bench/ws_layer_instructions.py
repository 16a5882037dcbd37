"""Instructions per sync-session mutation in the WebSocket protocol layer, counted by
valgrind (callgrind): server/ws_protocol.py's protocol receiving a client's masked
Mutation frame (bench/load.mjs's ``ws`` message) and handing its text to the app's
``pyconvex.take_text`` hook (which parses it, protocol/client_codec.py, as a sync
session's does), then the two frames a mutation answers with (the
MutationResponse, held, and the Transition, sent with it) written through
``pyconvex.send_text``, and the loop step that follows. The socket is a stand-in
transport that counts what it is given (no system calls); the app takes every message
and does nothing with it but parse it, so the figure is the layer's alone (the sync
session's work is bench/session_record_instructions.py's, the whole server's
bench/server_instructions.sh's).

    .venv/bin/python bench/ws_layer_instructions.py TREE [TREE ...] [--count 2000]

Same runner as bench/layers_instructions.py: the main thread's instructions, the
difference of runs of 0 and ``--count`` mutations after the same warm-up.
"""

from __future__ import annotations

from layers_instructions import compare

WORKLOAD = r"""
import asyncio, os, sys
tree, n = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, tree)
import pyconvex
assert pyconvex.__file__.startswith(tree), pyconvex.__file__
import uvicorn
from uvicorn.server import ServerState
from pyconvex.protocol import parse_client_message
from pyconvex.server.corked import CorkedTransport
from pyconvex.server.ws_protocol import WebSocketProtocol

MESSAGE = ('{"type":"Mutation","requestId":7,"udfPath":"bench:insert","args":[{"body":"'
           + "x" * 100 + '"}]}').encode()
RESPONSE = (b'{"type":"MutationResponse","requestId":7,"success":true,"result":'
            b'{"$id":"abc"},"ts":"AAAAAAAAAAA=","logLines":[]}')
TRANSITION = (b'{"type":"Transition","startVersion":{"querySet":1,"identity":0,"ts":"AAAAAAAAAAA="},'
              b'"endVersion":{"querySet":1,"identity":0,"ts":"AQAAAAAAAAA="},"modifications":[]}')


def masked(payload):
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    n = len(payload)
    head = bytes((0x81, 0x80 | n)) if n < 126 else bytes((0x81, 0xFE)) + n.to_bytes(2, "big")
    return head + mask + body


class Transport:
    def __init__(self):
        self.sent = 0
        self.closing = False
    def write(self, data):
        self.sent += len(data)
    def is_closing(self):
        return self.closing
    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 5555), "sockname": ("127.0.0.1", 3210)}.get(name, default)
    def pause_reading(self):
        pass
    def resume_reading(self):
        pass
    def close(self):
        self.closing = True
    def get_write_buffer_size(self):
        return 0


async def main():
    taken = []
    ready = asyncio.get_running_loop().create_future()

    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        ext = scope["extensions"]
        ext["pyconvex.take_text"](lambda text: taken.append(parse_client_message(text)) or True)
        ready.set_result(ext["pyconvex.send_text"])
        while (await receive())["type"] != "websocket.disconnect":
            pass

    config = uvicorn.Config(app, ws_max_size=1 << 20, ws_per_message_deflate=False,
                            log_level="warning")
    config.load()
    loop = asyncio.get_running_loop()
    protocol = WebSocketProtocol(config, ServerState(), {}, loop)
    transport = Transport()
    protocol.connection_made(CorkedTransport(transport, loop))
    protocol.data_received(
        b"GET /api/sync HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    send_text = await ready
    frames = [masked(MESSAGE) for _ in range(64)]

    async def one(i):
        protocol.data_received(frames[i & 63])
        assert send_text(RESPONSE, True) and send_text(TRANSITION, False)
        await asyncio.sleep(0)

    for i in range(200):
        await one(i)
    for i in range(n):
        await one(i)
    assert len(taken) == 200 + n and taken[-1]["args"] == {"body": "x" * 100}, taken[-1:]

asyncio.run(main())
"""


if __name__ == "__main__":
    compare(WORKLOAD, "mutation in the WebSocket layer", 2000)
