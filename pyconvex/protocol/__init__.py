"""The sync protocol's messages and codec, shared by the server and the Python client."""

from pyconvex.protocol.codec import (
    ProtocolError,
    decode_args,
    decode_ts,
    encode_server_message,
    encode_ts,
    parse_client_message,
    server_message_json,
)
from pyconvex.protocol.messages import ClientMessage, ServerMessage, StateVersion

__all__ = [
    "ClientMessage",
    "ProtocolError",
    "ServerMessage",
    "StateVersion",
    "decode_args",
    "decode_ts",
    "encode_server_message",
    "encode_ts",
    "parse_client_message",
    "server_message_json",
]
