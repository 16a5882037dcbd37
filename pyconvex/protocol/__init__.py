"""The sync protocol's messages and codec, shared by the server and the Python client
(Convex's ``sync_types`` crate). Imports only ``pyconvex.values`` and ``pyconvex.errors``.

=========================  ======================================  ====================
message direction          encode (Python -> JSON text)            parse (text -> Python)
=========================  ======================================  ====================
client -> server           :func:`encode_client_message`           :func:`parse_client_message`
server -> client           :func:`encode_server_message`           :func:`parse_server_message`
=========================  ======================================  ====================

The parsed forms are the TypedDicts of ``messages.py`` (args as dicts, values as Python
values, timestamps as ints); ``parse(encode(m)) == m`` in both directions. The JSON rules
live with each direction (``client_codec.py``, ``server_codec.py``), the shared pieces
(u64 timestamps, args arrays, field checks, :class:`ProtocolError`) in ``encoding.py``.
The rules themselves are in ``docs/protocol.md``.
"""

from pyconvex.protocol.client_codec import (
    client_message_json,
    encode_client_message,
    parse_client_message,
    parse_mutation,
)
from pyconvex.protocol.encoding import (
    ProtocolError,
    decode_args,
    decode_ts,
    encode_args,
    encode_ts,
)
from pyconvex.protocol.messages import (
    Action,
    ActionResponse,
    AddQuery,
    Authenticate,
    AuthErrorMessage,
    ClientMessage,
    Connect,
    Event,
    FatalError,
    ModifyQuerySet,
    Mutation,
    MutationResponse,
    Ping,
    QueryFailed,
    QueryRemoved,
    QuerySetModification,
    QueryUpdated,
    RemoveQuery,
    ServerMessage,
    StateModification,
    StateVersion,
    Transition,
)
from pyconvex.protocol.server_codec import (
    encode_server_frame,
    encode_server_message,
    parse_server_message,
    server_message_json,
)

__all__ = [
    "Action",
    "ActionResponse",
    "AddQuery",
    "AuthErrorMessage",
    "Authenticate",
    "ClientMessage",
    "Connect",
    "Event",
    "FatalError",
    "ModifyQuerySet",
    "Mutation",
    "MutationResponse",
    "Ping",
    "ProtocolError",
    "QueryFailed",
    "QueryRemoved",
    "QuerySetModification",
    "QueryUpdated",
    "RemoveQuery",
    "ServerMessage",
    "StateModification",
    "StateVersion",
    "Transition",
    "client_message_json",
    "decode_args",
    "decode_ts",
    "encode_args",
    "encode_client_message",
    "encode_server_frame",
    "encode_server_message",
    "encode_ts",
    "parse_client_message",
    "parse_mutation",
    "parse_server_message",
    "server_message_json",
]
