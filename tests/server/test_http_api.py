"""The HTTP function API: response shapes, and one error shape for every failing path."""

from __future__ import annotations

import httpx
import pytest


def post(server: str, endpoint: str, body: object, **kw: object) -> httpx.Response:
    if isinstance(body, (bytes, str)):
        return httpx.post(f"{server}{endpoint}", content=body, **kw)  # type: ignore[arg-type]
    return httpx.post(f"{server}{endpoint}", json=body, **kw)  # type: ignore[arg-type]


def test_success_and_function_error_shapes(server: str):
    r = post(server, "/api/mutation", {"path": "channels:create", "args": [{"name": "a"}], "format": "convex_encoded_json"})
    assert r.status_code == 200 and r.json()["status"] == "success" and isinstance(r.json()["value"], str)
    cid = r.json()["value"]
    r = post(server, "/api/mutation", {"path": "messages:send", "args": {"channelId": cid, "text": " "}})
    body = r.json()
    assert r.status_code == 200 and body["status"] == "error"
    assert body["errorData"] == {"code": "EmptyMessage"} and "Request ID" in body["errorMessage"]
    r = post(server, "/api/query", {"path": "channels:nope", "args": {}})
    assert r.status_code == 200 and "errorData" not in r.json()
    assert "Could not find public function for 'channels:nope'" in r.json()["errorMessage"]
    # A bug in user code is masked: "Server Error" and a request id, no traceback.
    acct = post(server, "/api/mutation", {"path": "bank:open_account", "args": {"owner": "o", "balance": 5}}).json()["value"]
    r = post(server, "/api/mutation", {"path": "bank:transfer_then_fail", "args": {"src": acct, "dst": acct, "amount": 1}})
    body = r.json()
    assert body["status"] == "error" and "errorData" not in body
    assert body["errorMessage"].startswith("[Request ID: ") and body["errorMessage"].endswith("] Server Error")
    assert "boom" not in r.text and "Traceback" not in r.text
    r = post(server, "/api/run/channels/list", {"args": {}})
    assert r.json()["status"] == "success" and r.json()["value"][0]["name"] == "a"


def test_internal_functions_need_the_admin_key(server: str):
    r = post(server, "/api/mutation", {"path": "messages:wipe", "args": {}})
    assert "Could not find public function" in r.json()["errorMessage"]
    r = post(server, "/api/mutation", {"path": "messages:wipe", "args": {}},
             headers={"Authorization": "Convex test-admin-key"})
    assert r.json()["status"] == "success"


@pytest.mark.parametrize(
    ("endpoint", "body", "headers", "status", "code"),
    [
        ("/api/query", b"{not json", {}, 400, "BadJsonBody"),
        ("/api/query", {"path": "bad path!", "args": {}}, {}, 400, "BadConvexFunctionIdentifier"),
        ("/api/query", {"args": {}}, {}, 400, "BadConvexFunctionIdentifier"),
        ("/api/query", {"path": "a:b", "args": {}, "format": "xml"}, {}, 400, "BadFormat"),
        ("/api/query", {"path": "a:b", "args": [1, 2]}, {}, 400, "BadJsonBody"),
        ("/api/query", {"path": "a:b", "args": {}}, {"Authorization": "Bearer x.y.z"}, 401, "NoAuthProvider"),
        ("/api/query", {"path": "a:b", "args": {}}, {"Authorization": "Convex wrong"}, 401, "BadAdminKey"),
        ("/api/run/x", {"args": {}}, {}, 400, "BadConvexFunctionIdentifier"),
    ],
)
def test_request_errors_have_one_shape(server: str, endpoint, body, headers, status, code):
    r = post(server, endpoint, body, headers=headers)
    assert r.status_code == status
    assert set(r.json()) == {"code", "message"} and r.json()["code"] == code and r.json()["message"]


def test_cors_and_double_slash(server: str):
    r = httpx.options(f"{server}/api/query", headers={
        "Origin": "http://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "http://app.example"
    assert r.headers["access-control-allow-credentials"] == "true"
    r = httpx.post(f"{server}//api/query", json={"path": "channels:list", "args": {}})
    assert r.json()["status"] == "success"
    # A browser's call (ConvexHttpClient in a page) carries Origin: the answer must allow it.
    r = httpx.post(f"{server}/api/mutation", json={"path": "channels:create", "args": {"name": "c"}},
                   headers={"Origin": "http://app.example"})
    assert r.json()["status"] == "success"
    assert r.headers["access-control-allow-origin"] == "http://app.example"
    assert r.headers["access-control-allow-credentials"] == "true"
    assert r.headers["content-type"] == "application/json"
    r = httpx.post(f"{server}/api/query", content=b"[1]", headers={"Origin": "http://app.example"})
    assert r.status_code == 400 and r.json()["code"] == "BadJsonBody"
    assert r.headers["access-control-allow-origin"] == "http://app.example"
    assert httpx.get(f"{server}/version").text.startswith("pyconvex")


def test_an_oversized_body_is_refused_by_name(server: str):
    r = httpx.post(f"{server}/api/mutation", content=b" " * (16 * 1024 * 1024 + 1),
                   headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 413 and r.json()["code"] == "BodyTooLarge"
    assert "limit" in r.json()["message"]
    assert httpx.post(f"{server}/api/query", json={"path": "channels:list", "args": {}}).json()["status"] == "success"
