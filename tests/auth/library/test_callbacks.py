"""convex_auth's callbacks (tests/fixtures/authcallbacks): create_or_update_user replaces
the linking, after_user_created_or_updated writes the app's own table in the same
mutation, before_session_creation refuses a sign-in, redirect widens where links go."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyconvex.errors import ConvexError
from pyconvex.testing import ConvexTest

from ...conftest import FIXTURES
from .conftest import verifier

APP = FIXTURES / "authcallbacks" / "convex"


@pytest.fixture
async def t(auth_env: dict[str, str]) -> AsyncIterator[ConvexTest]:
    async with ConvexTest(APP) as test:
        auth_env["CONVEX_SITE_URL"] = os.environ["CONVEX_SITE_URL"]
        yield test


async def rows(t: ConvexTest, table: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await t.run(lambda ctx: ctx.db.query(table).collect())
    return found


async def password(t: ConvexTest, flow: str, email: str, **extra: str) -> Any:
    return await t.action("auth:signIn", {"provider": "password", "params": {
        "flow": flow, "email": email, "password": "callback-pw-1", **extra}})


async def test_create_or_update_user_decides_the_user(
        auth_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_CUSTOM_USERS", "1")
    async with ConvexTest(APP) as t:
        env = {**auth_env, "CONVEX_SITE_URL": os.environ["CONVEX_SITE_URL"]}
        up = await password(t, "signUp", "ann@example.test", name="Ann")
        [user] = await rows(t, "users")
        assert user["name"] == "ANN"  # the callback's own profile handling
        identity = await verifier(env).verify(up["tokens"]["token"])
        assert identity["subject"].split("|")[0] == user["_id"]
        # A magic link to the same email: the default policy would make a new user (the
        # password account's email is not verified); this callback links by email.
        await t.action("auth:signIn", {"provider": "email", "params": {"email": "ann@example.test"}})
        [mail] = await rows(t, "outbox")
        linked = await t.action("auth:signIn", {"params": {"code": mail["url"].rpartition("code=")[2]}})
        assert (await verifier(env).verify(linked["tokens"]["token"]))["subject"].startswith(user["_id"])
        assert [u["_id"] for u in await rows(t, "users")] == [user["_id"]]
        accounts = sorted((a["provider"], a["userId"]) for a in await rows(t, "authAccounts"))
        assert accounts == [("email", user["_id"]), ("password", user["_id"])]
        # It replaces the default handling, after_user_created_or_updated included.
        assert await rows(t, "profiles") == []


async def test_after_user_created_or_updated_writes_in_the_same_mutation(t: ConvexTest) -> None:
    await password(t, "signUp", "dee@example.test", name="Dee")
    await t.action("auth:signIn", {"provider": "email", "params": {"email": "eve@example.test"}})
    [mail] = await rows(t, "outbox")
    await t.action("auth:signIn", {"params": {"code": mail["url"].rpartition("code=")[2]}})
    users = {u["email"]: u for u in await rows(t, "users")}
    assert users["dee@example.test"]["name"] == "Dee"  # the default handling, unchanged
    dee, eve = users["dee@example.test"]["_id"], users["eve@example.test"]["_id"]
    profiles = [(p["userId"], p["provider"], p["type"], p["existingUserId"]) for p in await rows(t, "profiles")]
    assert profiles == [(dee, "password", "credentials", None), (eve, "email", "email", None),
                        (eve, "email", "verification", eve)]
    # A refused sign-up writes neither the user nor the callback's row.
    with pytest.raises(ConvexError, match="Invalid password"):
        await t.action("auth:signIn", {"provider": "password", "params": {
            "flow": "signUp", "email": "fay@example.test", "password": "short"}})
    assert len(await rows(t, "profiles")) == 3 and len(await rows(t, "users")) == 2


async def test_before_session_creation_refuses_and_leaves_no_session(t: ConvexTest) -> None:
    await password(t, "signUp", "bo@example.test")
    await t.run(lambda ctx: ctx.db.insert("banned", {"email": "bo@example.test"}))
    with pytest.raises(ConvexError, match=r"This account is suspended\."):
        await password(t, "signIn", "bo@example.test")
    assert len(await rows(t, "authSessions")) == 1  # the sign-up's, from before the ban
    assert len(await rows(t, "authRefreshTokens")) == 1
    # Other users are not affected.
    assert (await t.action("auth:signIn", {"provider": "anonymous", "params": {}}))["tokens"]


async def test_redirect_callback_allows_what_it_returns_and_refuses_the_rest(t: ConvexTest) -> None:
    await t.action("auth:signIn", {"provider": "email", "params": {
        "email": "cy@example.test", "redirectTo": "myapp://signed-in"}})
    [mail] = await rows(t, "outbox")
    assert mail["url"].startswith("myapp://signed-in?code=")
    with pytest.raises(ConvexError, match=r"Not an allowed redirect: https://evil\.example/"):
        await t.action("auth:signIn", {"provider": "email", "params": {
            "email": "cy@example.test", "redirectTo": "https://evil.example/"}})
    assert len(await rows(t, "outbox")) == 1


async def test_phone_codes_sign_in_and_wrong_codes_are_limited_per_number(t: ConvexTest) -> None:
    phone = "+15550100"
    assert await t.action("auth:signIn", {"provider": "sms", "params": {"phone": phone}}) == {"started": True}
    [sms] = await rows(t, "outbox")
    assert sms["to"] == phone and len(sms["code"]) == 6 and sms["code"].isdigit()
    wrong = "000000" if sms["code"] != "000000" else "111111"
    for _ in range(10):
        with pytest.raises(ConvexError, match="Could not verify code"):
            await t.action("auth:signIn", {"provider": "sms", "params": {"phone": phone, "code": wrong}})
    # The eleventh attempt is refused even with the right code, saying why and for how long.
    with pytest.raises(ConvexError, match=r"Too many failed attempts to verify a code for this address "
                                          r"\(10 an hour are allowed\); try again in 6 minutes\."):
        await t.action("auth:signIn", {"provider": "sms", "params": {"phone": phone, "code": sms["code"]}})
    assert await rows(t, "authSessions") == []
    await t.advance_time(6 * 60 * 1000 + 1000)
    done = await t.action("auth:signIn", {"provider": "sms", "params": {"phone": phone, "code": sms["code"]}})
    assert done["tokens"] is not None
    [user] = await rows(t, "users")
    assert user["phone"] == phone and user["phoneVerificationTime"] > 0
    assert await rows(t, "authRateLimits") == [] and await rows(t, "authVerificationCodes") == []
