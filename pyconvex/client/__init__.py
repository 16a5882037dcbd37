"""Python clients for a Convex (or pyconvex) deployment, over the sync WebSocket.

``ConvexClient`` (blocking) and ``AsyncConvexClient`` (asyncio) share one implementation
and one API, mirroring convex-py: ``query``, ``mutation``, ``action``, ``subscribe``,
``set_auth``, ``set_admin_auth``, ``clear_auth`` and ``close()`` / ``aclose()``, plus
``with`` / ``async with``. Functions are named by path (``"messages:list"``) or by a
reference with a ``.path`` (``api.messages.list``).

>>> from pyconvex.client import ConvexClient
>>> with ConvexClient("http://127.0.0.1:3210") as client:
...     client.mutation("messages:send", {"body": "hi"})
...     for messages in client.subscribe("messages:list"):
...         print(messages)

Values follow Convex JSON exactly: ``int`` is int64 (``v.int64()``), ``float`` is float64
(``v.number()``, JS ``number``), ``bytes`` is ``v.bytes()``. Numbers that JS code produces
arrive as ``float``. Errors mirror convex-py: :class:`ConvexError` (``.data``) for an
application error, :class:`ConvexExecutionError` for any other server failure, and its
subclass :class:`ConvexConnectionError` when the connection, not the function, failed.

This package speaks only ``pyconvex.protocol`` and ``pyconvex.values``; it never imports
the server.
"""

from pyconvex.client._async import AsyncConvexClient
from pyconvex.client._errors import ConvexConnectionError, ConvexError, ConvexExecutionError
from pyconvex.client._subscription import AsyncSubscription
from pyconvex.client._sync import ConvexClient, Subscription
from pyconvex.client.http import ConvexHttpClient

__all__ = [
    "AsyncConvexClient",
    "AsyncSubscription",
    "ConvexClient",
    "ConvexConnectionError",
    "ConvexError",
    "ConvexExecutionError",
    "ConvexHttpClient",
    "Subscription",
]

for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
