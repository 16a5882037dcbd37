"""Sessions: access tokens, rotating refresh tokens with reuse detection, sign-out."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from pyconvex.auth import generate_keys
from pyconvex.errors import AuthError, ConvexError

from .conftest import verifier

SIGN_IN = "auth:signIn"


async def signed_up(t: Any, email: str = "ann@example.test") -> dict[str, str]:
    result = await t.action(SIGN_IN, {"provider": "password", "params": {
        "flow": "signUp", "email": email, "password": "pass-word-123"}})
    tokens: dict[str, str] = result["tokens"]
    return tokens


async def refresh(t: Any, refresh_token: str) -> dict[str, str] | None:
    result: dict[str, Any] = await t.action(SIGN_IN, {"refreshToken": refresh_token})
    assert set(result) == {"tokens"}
    return result["tokens"]


async def table(t: Any, name: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await t.run(lambda ctx: ctx.db.query(name).collect())
    return result


async def test_access_token_claims(t, auth_env):
    tokens = await signed_up(t)
    header = json.loads(base64.urlsafe_b64decode(tokens["token"].split(".")[0] + "=="))
    assert header["alg"] == "RS256" and header["kid"] == json.loads(auth_env["JWKS"])["keys"][0]["kid"]
    identity = await verifier(auth_env).verify(tokens["token"])
    session = (await table(t, "authSessions"))[0]
    assert identity["subject"] == f"{session['userId']}|{session['_id']}"
    assert identity["issuer"] == auth_env["CONVEX_SITE_URL"]
    claims = jwt.decode(tokens["token"], RSAKey.import_key(json.loads(auth_env["JWKS"])["keys"][0])).claims
    assert claims["aud"] == "convex" and claims["exp"] - claims["iat"] == 3600
    assert tokens["refreshToken"].endswith(f"|{session['_id']}")


async def test_refresh_rotates_and_a_stolen_token_ends_the_session(t, auth_env):
    first = await signed_up(t)
    second = await refresh(t, first["refreshToken"])
    assert second is not None and second["refreshToken"] != first["refreshToken"]
    # Two tabs refreshing with the same token at once: the second gets the same new token.
    twin = await refresh(t, first["refreshToken"])
    assert twin is not None and twin["refreshToken"] == second["refreshToken"]
    third = await refresh(t, second["refreshToken"])
    assert third is not None
    # Within 10 s a retried exchange still works (a lost response)...
    retried = await refresh(t, second["refreshToken"])
    assert retried is not None
    await t.advance_time(11_000)
    # ...but later, an old token coming back means it was copied: the session ends.
    assert await refresh(t, first["refreshToken"]) is None
    assert await table(t, "authSessions") == []
    assert await table(t, "authRefreshTokens") == []
    assert await refresh(t, third["refreshToken"]) is None


async def test_sign_out_ends_the_session_everywhere(t, auth_env):
    tokens = await signed_up(t)
    other_device = await t.action(SIGN_IN, {"provider": "password", "params": {
        "flow": "signIn", "email": "ann@example.test", "password": "pass-word-123"}})
    assert len(await table(t, "authSessions")) == 2
    me = t.with_identity(await verifier(auth_env).verify(tokens["token"]))
    assert await me.action("auth:signOut", {}) is None
    sessions = await table(t, "authSessions")
    assert len(sessions) == 1 and tokens["refreshToken"].split("|")[1] != sessions[0]["_id"]
    # The signed-out device's access token, though unexpired, no longer counts.
    assert await me.query("notes:me") is None
    other = t.with_identity(await verifier(auth_env).verify(other_device["tokens"]["token"]))
    assert (await other.query("notes:me"))["email"] == "ann@example.test"
    assert await refresh(t, tokens["refreshToken"]) is None
    assert await refresh(t, other_device["tokens"]["refreshToken"]) is not None
    # Signing out when already signed out is harmless, as the client expects.
    assert await t.action("auth:signOut", {}) is None


async def test_expired_refresh_token_and_session(t, auth_env):
    tokens = await signed_up(t)
    await t.advance_time(31 * 24 * 3600 * 1000)
    assert await refresh(t, tokens["refreshToken"]) is None
    assert await table(t, "authSessions") == []


async def test_garbage_refresh_tokens_are_refused_without_harm(t, auth_env):
    tokens = await signed_up(t)
    for bad in ("nonsense", "a|b", f"x|{tokens['refreshToken'].split('|')[1]}x"):
        assert await t.action(SIGN_IN, {"refreshToken": bad}) == {"tokens": None}
    with pytest.raises(ConvexError, match=r"Missing `provider`, `params\.code` or `refreshToken`"):
        await t.action(SIGN_IN, {"refreshToken": ""})
    assert len(await table(t, "authSessions")) == 1


async def test_forged_tokens_are_refused(t, auth_env):
    tokens = await signed_up(t)
    good = jwt.decode(tokens["token"], RSAKey.import_key(json.loads(auth_env["JWKS"])["keys"][0])).claims
    check = verifier(auth_env)
    unsigned = (base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode() + "."
                + base64.urlsafe_b64encode(json.dumps(good).encode()).rstrip(b"=").decode() + ".")
    other_key = RSAKey.import_key(generate_keys()["JWT_PRIVATE_KEY"].replace(" PRIVATE KEY-----", "_PK")
                                  .replace(" ", "\n").replace("_PK", " PRIVATE KEY-----"))
    kid = json.loads(auth_env["JWKS"])["keys"][0]["kid"]
    wrong_key = jwt.encode({"alg": "RS256", "kid": kid}, good, other_key)
    own_key = RSAKey.import_key(auth_env["JWT_PRIVATE_KEY"].replace(" PRIVATE KEY-----", "_PK")
                                .replace(" ", "\n").replace("_PK", " PRIVATE KEY-----"))
    wrong_issuer = jwt.encode({"alg": "RS256", "kid": kid}, {**good, "iss": "https://evil.example"}, own_key)
    wrong_audience = jwt.encode({"alg": "RS256", "kid": kid}, {**good, "aud": "other"}, own_key)
    for forged, why in ((unsigned, "not allowed"), (wrong_key, "signature is invalid"),
                        (wrong_issuer, "unknown issuer"), (wrong_audience, "wrong audience")):
        with pytest.raises(AuthError, match=why):
            await check.verify(forged)
    assert (await check.verify(tokens["token"]))["subject"] == good["sub"]
