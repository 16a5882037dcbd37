"""Frames between the server and a worker: a 4-byte length, then a pickle.

Both ends are pyconvex processes of the same installation, so pickle carries Convex
values (ids, bytes, int64) as they are; user-defined exception classes do not cross
(their modules are imported under different private names in each process), which is
why errors travel as :class:`RemoteFailure` descriptions.
"""

from __future__ import annotations

import asyncio
import pickle
import struct
from dataclasses import dataclass
from typing import Any

_HEADER = struct.Struct(">I")
MAX_FRAME = 1 << 30


class ChannelClosed(Exception):
    """The other end went away."""


async def read_frame(reader: asyncio.StreamReader) -> Any:
    try:
        header = await reader.readexactly(_HEADER.size)
        (size,) = _HEADER.unpack(header)
        if size > MAX_FRAME:
            raise ChannelClosed(f"frame of {size} bytes")
        return pickle.loads(await reader.readexactly(size))
    except (asyncio.IncompleteReadError, ConnectionError) as e:
        raise ChannelClosed(str(e)) from None


def write_frame(writer: asyncio.StreamWriter, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    writer.write(_HEADER.pack(len(data)) + data)


@dataclass(frozen=True, slots=True)
class RemoteFailure:
    """An exception raised on the other side, as far as it can cross."""

    description: str
    """``Type: message`` as logs show it."""
    traceback: str
    convex_data: Any = None
    is_convex_error: bool = False
    pickled: bytes | None = None
    """pyconvex's own errors (importable on both sides) cross whole."""
    log_lines: tuple[str, ...] = ()
