"""server/corked.py reads private attributes of uvicorn's protocols (and of the websockets
connection inside them). This fails loudly, naming the attribute, if an upgrade moves
one, instead of the server misbehaving under load."""

from __future__ import annotations

import asyncio
import inspect
import re
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState

from pyconvex.server.corked import (
    UVICORN_FLOW_INTERNALS,
    UVICORN_HTTP_INTERNALS,
    UVICORN_WS_INTERNALS,
    WEBSOCKETS_CONNECTION_INTERNALS,
)
from pyconvex.server.direct_calls import (
    UVICORN_CYCLE_INTERNALS,
    UVICORN_DIRECT_INTERNALS,
    DirectCycle,
)


async def _app(scope, receive, send):  # type: ignore[no-untyped-def]
    pass


def _missing(protocol: Any, names: tuple[str, ...]) -> list[str]:
    """Names neither on the protocol after construction nor assigned by its class's code
    (``transport`` and ``scope`` are set when a connection is made)."""
    source = inspect.getsource(type(protocol))
    return [
        n for n in names
        if not hasattr(protocol, n) and not re.search(rf"self\.{n}\s*(:[^=\n]*)?=", source)
    ]


def _config() -> uvicorn.Config:
    config = uvicorn.Config(_app, ws_max_size=1 << 20)
    config.load()
    return config


async def test_the_http_protocol_still_has_what_corked_uses():
    protocol = HttpToolsProtocol(_config(), ServerState(), {}, asyncio.get_running_loop())
    missing = _missing(protocol, UVICORN_HTTP_INTERNALS)
    assert not missing, f"uvicorn's HttpToolsProtocol no longer has {missing}: see server/corked.py"


async def test_the_websocket_protocol_still_has_what_corked_uses():
    protocol = WebSocketsSansIOProtocol(_config(), ServerState(), {}, asyncio.get_running_loop())
    missing = _missing(protocol, UVICORN_WS_INTERNALS)
    assert not missing, (
        f"uvicorn's WebSocketsSansIOProtocol no longer has {missing}: see server/corked.py"
    )
    missing = [n for n in WEBSOCKETS_CONNECTION_INTERNALS if not hasattr(protocol.conn, n)]
    assert not missing, f"websockets' ServerProtocol no longer has {missing}: see server/corked.py"


async def test_the_http_protocol_and_its_cycle_still_have_what_direct_calls_use():
    protocol = HttpToolsProtocol(_config(), ServerState(), {}, asyncio.get_running_loop())
    missing = _missing(protocol, UVICORN_DIRECT_INTERNALS)
    assert not missing, (
        f"uvicorn's HttpToolsProtocol no longer has {missing}: see server/direct_calls.py"
    )
    source = inspect.getsource(RequestResponseCycle)
    missing = [n for n in UVICORN_CYCLE_INTERNALS
               if not re.search(rf"self\.{n}\s*(:[^=\n]*)?=", source)]
    assert not missing, (
        f"uvicorn's RequestResponseCycle no longer sets {missing}: see server/direct_calls.py"
    )


def test_a_direct_cycle_has_every_cycle_attribute_uvicorns_protocol_uses():
    """A direct call's cycle stands in for uvicorn's own: every ``cycle.<name>`` the
    protocol's source reads or sets must be one of its slots."""
    source = inspect.getsource(HttpToolsProtocol)
    used = set(re.findall(r"self\.cycle\.(\w+)", source))
    assert {"body", "more_body", "message_event", "disconnected", "response_complete"} <= used
    missing = sorted(used - set(DirectCycle.__slots__))
    assert not missing, (
        f"uvicorn's HttpToolsProtocol uses cycle.{missing}, which DirectCycle lacks: "
        "see server/direct_calls.py"
    )


def test_uvicorn_flow_control_still_has_what_corked_uses():
    from uvicorn.protocols.http.flow_control import FlowControl

    flow = FlowControl(None)  # type: ignore[arg-type]  # (the transport is only stored)
    missing = [n for n in UVICORN_FLOW_INTERNALS if not hasattr(flow, n)]
    assert not missing, f"uvicorn's FlowControl no longer has {missing}: see server/corked.py"
