"""``GET /api/pyconvex/functions``: every loaded function with its validators.

Convex's ``function-spec`` in pyconvex's terms: ``{"identifier": "messages:send",
"functionType": "Mutation", "visibility": {"kind": "public"}, "args": <validator JSON>
| null, "returns": ... | null}``, identifiers as published (``name=``). The CLI's
``run`` and the dashboard's run form read it to send an int64 where an argument
expects one: their users type JSON, whose numbers are float64 on Convex's wire.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from pyconvex.functions import Registry
from pyconvex.server.state import ServerState


def function_spec(registry: Registry) -> list[dict[str, Any]]:
    return [
        {
            "identifier": path,
            "functionType": fn.kind.title,
            "visibility": {"kind": fn.visibility.value},
            "args": fn.args.to_json() if fn.args is not None else None,
            "returns": fn.returns.to_json() if fn.returns is not None else None,
        }
        for path, fn in sorted(registry.functions.items())
    ]


async def functions(request: Request, state: ServerState) -> Response:
    body = {"functions": function_spec(state.deployment.registry)}
    return Response(orjson.dumps(body), media_type="application/json")
