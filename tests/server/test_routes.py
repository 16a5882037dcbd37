"""One route table: the fast call routes and the sync socket are entries of the
deployment's route table like every other route; the plain-ASGI layer answers exactly
those, and Starlette knows them too (a wrong method is a 405, not a 404)."""

from __future__ import annotations

import httpx
from starlette.routing import Route, WebSocketRoute

from pyconvex.functions import FunctionKind
from pyconvex.server.fast_path import CallRoute, FunctionCalls, SyncRoute, call_routes


async def _app(scope, receive, send):  # type: ignore[no-untyped-def]
    pass


def test_the_fast_layer_answers_the_routes_of_the_table():
    table = [*call_routes(), Route("/version", _app)]
    fast = FunctionCalls(_app, None, table)  # type: ignore[arg-type]
    assert fast.calls == {"/api/query": FunctionKind.QUERY, "/api/mutation": FunctionKind.MUTATION,
                          "/api/action": FunctionKind.ACTION}
    assert all(isinstance(r, (CallRoute, SyncRoute)) for r in call_routes())
    assert [r.path for r in table if isinstance(r, WebSocketRoute)] == [
        "/api/sync", "/api/{client_version}/sync"]
    assert any(regex.fullmatch("/api/1.48.0/sync") for regex in fast.sync)
    assert not any(regex.fullmatch("/api/1.48.0/other") for regex in fast.sync)


def test_a_call_route_with_the_wrong_method_is_refused_by_name(server: str):
    assert httpx.get(f"{server}/api/query").status_code == 405
    r = httpx.post(f"{server}/api/query", json={"path": "channels:list", "args": {}})
    assert r.json()["status"] == "success"
