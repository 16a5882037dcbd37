"""Instructions per request in the deployment's HTTP protocol around a client call,
counted by valgrind (callgrind): `server/direct_calls.py`'s ``DirectCallsProtocol`` fed
the request bytes bench/load.mjs `channels` sends (a keep-alive POST of
``channels:post``), on a uvloop loop, with ``FunctionCalls.answer`` replaced by a fixed
answer and the socket by a stand-in transport (no system calls). What is left is the
protocol's own work: parsing, the cycle, the task, the response's bytes, keep-alive.

    .venv/bin/python bench/http_layer_instructions.py TREE [TREE ...] [--count 2000]

Only the main thread is counted, with ``PYTHONHASHSEED=0``; the figure is the
difference between runs of 0 and ``--count`` requests after the same warm-up, the
same run to run within a few instructions. Needs valgrind (Debian's ``valgrind``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from layers_instructions import compare

WORKLOAD = r"""
import asyncio, sys
tree, n = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, tree)
import pyconvex
assert pyconvex.__file__.startswith(tree), pyconvex.__file__
import uvicorn, uvloop
from uvicorn.server import ServerState as UvicornState
from pyconvex.server.direct_calls import direct_calls_protocol
from pyconvex.server.fast_path import FunctionCalls, call_routes

BODY = b'{"path":"channels:post","args":{"channel":"hot","body":"' + b"x" * 100 + b'"}}'
REQUEST = (b"POST /api/mutation HTTP/1.1\r\nHost: 127.0.0.1:3210\r\n"
           b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY)) + BODY
ANSWER = b'{"status":"success","value":"j57a2c7m5z6h0q7zv2dz0e4cx57b0x1n","logLines":[]}'


class Calls(FunctionCalls):
    # (a tree's protocol calls one or the other)
    async def answer(self, kind, scope, chunks, size):
        return 200, [(b"content-type", b"application/json"),
                     (b"content-length", str(len(ANSWER)).encode())], ANSWER

    async def reply(self, kind, scope, chunks, size):
        return 200, ANSWER, None


class Transport:
    '''A socket that takes every write and counts the responses.'''
    def __init__(self):
        self.responses = 0
    def write(self, data):
        self.responses += data.count(b"HTTP/1.1 200")
    def is_closing(self):
        return False
    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 5555), "sockname": ("127.0.0.1", 3210)}.get(name, default)
    def get_write_buffer_size(self):
        return 0
    def pause_reading(self): pass
    def resume_reading(self): pass
    def set_write_buffer_limits(self, *a, **k): pass
    def close(self): pass


async def app(scope, receive, send):
    raise AssertionError("every request here is a direct call")


async def main():
    config = uvicorn.Config(app, timeout_keep_alive=5, access_log=False)  # (as runner.py)
    config.load()
    protocol_class = direct_calls_protocol(Calls(app, None, call_routes()))
    protocol = protocol_class(config, UvicornState(), {}, asyncio.get_running_loop())
    transport = Transport()
    protocol.connection_made(transport)

    async def request():
        protocol.data_received(REQUEST)
        while protocol.tasks:
            await asyncio.sleep(0)

    for _ in range(200):
        await request()
    for _ in range(n):
        await request()
    assert transport.responses == 200 + n, transport.responses

uvloop.run(main())
"""


if __name__ == "__main__":
    compare(WORKLOAD, "request in the HTTP protocol", 2000)
