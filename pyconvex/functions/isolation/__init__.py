"""Actions in worker processes: blocking or CPU-heavy action code cannot stall the
server's event loop, and a stopped or crashed action takes only its own process.

``pool.py`` (the server side) starts and reuses workers and answers their calls back
into the deployment (``host.py``); ``worker.py`` is a worker's main, running one action
at a time with a ``ctx`` whose every call crosses back (``remote_ctx.py``) over a
socket pair (``channel.py``).
"""

from pyconvex.functions.isolation.pool import WorkerPool

__all__ = ["WorkerPool"]
