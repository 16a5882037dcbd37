"""The admin API of log streams (``pyconvex log-streams``): list, add, remove, test.

``GET /api/pyconvex/log_streams`` lists every sink with its counters (sent, dropped,
buffered, the last delivery error); ``POST`` with a :class:`SinkConfig` as JSON adds one
and keeps it in the deployment; ``DELETE /api/pyconvex/log_streams/{id}`` removes it;
``POST /api/pyconvex/log_streams/{id}/test`` sends a ``verification`` event and waits
(up to ten seconds) for it to be delivered, so a wrong URL shows at once.
"""

from __future__ import annotations

import time

import orjson
from starlette.requests import Request
from starlette.responses import Response

from pyconvex.errors import BadRequestError
from pyconvex.server.log_streams import LogStreamConfigError, SinkConfig
from pyconvex.server.state import ServerState

TEST_TIMEOUT_S = 10.0


def _json(obj: object, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json")


async def list_streams(request: Request, state: ServerState) -> Response:
    streams = await state.streams()
    return _json({"streams": streams.stats()})


async def add_stream(request: Request, state: ServerState) -> Response:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise BadRequestError("Body must be JSON.", short_msg="BadJsonBody") from None
    config = SinkConfig.from_json(body)
    streams = await state.streams()
    sink = await streams.add(config)
    return _json({"stream": sink.stats()})


async def remove_stream(request: Request, state: ServerState) -> Response:
    streams = await state.streams()
    await streams.remove(request.path_params["stream_id"])
    return _json({"removed": request.path_params["stream_id"]})


async def test_stream(request: Request, state: ServerState) -> Response:
    streams = await state.streams()
    sink = streams.sinks.get(request.path_params["stream_id"])
    if sink is None:
        raise LogStreamConfigError(f"There is no log stream {request.path_params['stream_id']!r}.")
    sent, dropped = sink.sent, sink.dropped
    sink.offer({"topic": "verification", "timestamp": int(time.time() * 1000),
                "message": "Convex connection test"})
    delivered = await sink.flushed(TEST_TIMEOUT_S) and sink.sent > sent and sink.dropped == dropped
    return _json({"delivered": delivered, "stream": sink.stats()})
