"""The Password provider through ``auth:signIn``, on a real deployment (ConvexTest)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from pyconvex.errors import ConvexError

from .conftest import verifier

SIGN_IN = "auth:signIn"


async def sign_in(t: Any, provider: str | None, params: dict[str, Any], **extra: Any) -> Any:
    args: dict[str, Any] = {"params": params, **extra}
    if provider is not None:
        args["provider"] = provider
    return await t.action(SIGN_IN, args)


async def as_user(t: Any, env: dict[str, str], token: str) -> Any:
    identity = await verifier(env).verify(token)
    return t.with_identity(identity)


async def test_sign_up_then_sign_in_and_read_own_data(t, auth_env):
    up = await sign_in(t, "password", {"flow": "signUp", "email": "ann@example.test",
                                       "password": "correct horse 1", "name": "Ann"})
    assert set(up) == {"tokens"} and set(up["tokens"]) == {"token", "refreshToken"}
    ann = await as_user(t, auth_env, up["tokens"]["token"])
    me = await ann.query("notes:me")
    assert me["email"] == "ann@example.test" and me["name"] == "Ann"
    await ann.mutation("notes:add", {"text": "hello"})
    assert await ann.query("notes:mine") == ["hello"]
    assert await t.query("notes:me") is None

    again = await sign_in(t, "password", {"flow": "signIn", "email": "ann@example.test",
                                          "password": "correct horse 1"})
    ann2 = await as_user(t, auth_env, again["tokens"]["token"])
    me2 = await ann2.query("notes:me")
    assert me2["userId"] == me["userId"] and me2["sessionId"] != me["sessionId"]
    assert await ann2.query("notes:mine") == ["hello"]
    account = await t.run(lambda ctx: ctx.db.query("authAccounts").unique())
    assert account["provider"] == "password" and account["providerAccountId"] == "ann@example.test"
    assert account["secret"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")


async def test_wrong_password_and_unknown_email_get_the_same_answer(t):
    await sign_in(t, "password", {"flow": "signUp", "email": "bo@example.test", "password": "s3cret-enough"})
    with pytest.raises(ConvexError) as wrong:
        await sign_in(t, "password", {"flow": "signIn", "email": "bo@example.test", "password": "nope-nope-1"})
    with pytest.raises(ConvexError) as unknown:
        await sign_in(t, "password", {"flow": "signIn", "email": "who@example.test", "password": "nope-nope-1"})
    assert wrong.value.data == unknown.value.data == "Invalid credentials"
    # Only the sign-up made a session; the failures wrote none.
    assert len(await t.run(lambda ctx: ctx.db.query("authSessions").collect())) == 1


async def test_password_policy_hook_refuses_and_writes_nothing(t):
    with pytest.raises(ConvexError, match="10\\+ characters"):
        await sign_in(t, "password", {"flow": "signUp", "email": "cy@example.test", "password": "short"})
    assert await t.run(lambda ctx: ctx.db.query("users").collect()) == []
    assert await t.run(lambda ctx: ctx.db.query("authAccounts").collect()) == []


async def test_sign_up_twice_with_another_password_is_refused(t):
    await sign_in(t, "password", {"flow": "signUp", "email": "di@example.test", "password": "first-pass-1"})
    with pytest.raises(ConvexError, match="already exists"):
        await sign_in(t, "password", {"flow": "signUp", "email": "di@example.test", "password": "second-pass-2"})
    assert len(await t.run(lambda ctx: ctx.db.query("users").collect())) == 1


async def test_failed_attempts_are_rate_limited_per_account(t):
    await sign_in(t, "password", {"flow": "signUp", "email": "ed@example.test", "password": "right-pass-1"})
    for _ in range(10):
        with pytest.raises(ConvexError, match="Invalid credentials"):
            await sign_in(t, "password", {"flow": "signIn", "email": "ed@example.test", "password": "wrong-pass-1"})
    with pytest.raises(ConvexError, match=r"Too many failed attempts to sign in to this account "
                       r"\(10 an hour are allowed\); try again in 6 minutes\."):
        await sign_in(t, "password", {"flow": "signIn", "email": "ed@example.test", "password": "right-pass-1"})
    await t.advance_time(60 * 60 * 1000 / 10 + 1000)  # one attempt refills in 6 minutes
    ok = await sign_in(t, "password", {"flow": "signIn", "email": "ed@example.test", "password": "right-pass-1"})
    assert ok["tokens"] is not None
    assert await t.run(lambda ctx: ctx.db.query("authRateLimits").collect()) == []


async def test_missing_flow_and_unknown_provider_are_named(t):
    with pytest.raises(ConvexError, match="Missing `flow` param"):
        await sign_in(t, "password", {"email": "x@example.test", "password": "whatever-1"})
    with pytest.raises(ConvexError, match="Provider `github` is not configured, available providers are"):
        await sign_in(t, "github", {})


async def test_password_reset_by_emailed_code(t, auth_env, mailbox):
    first = await sign_in(t, "password", {"flow": "signUp", "email": "fa@example.test", "password": "old-password-1"})
    assert await sign_in(t, "password", {"flow": "reset", "email": "fa@example.test"}) == {"tokens": None}
    code = mailbox.code_for("fa@example.test")
    assert code.isdigit() and len(code) == 8
    with pytest.raises(ConvexError, match="Could not verify code"):
        await sign_in(t, "password", {"flow": "reset-verification", "email": "fa@example.test",
                                      "code": "00000000", "newPassword": "new-password-2"})
    done = await sign_in(t, "password", {"flow": "reset-verification", "email": "fa@example.test",
                                         "code": code, "newPassword": "new-password-2"})
    assert done["tokens"] is not None
    # Every other session ended: the first device's refresh token no longer works.
    assert await t.action(SIGN_IN, {"refreshToken": first["tokens"]["refreshToken"]}) == {"tokens": None}
    with pytest.raises(ConvexError, match="Invalid credentials"):
        await sign_in(t, "password", {"flow": "signIn", "email": "fa@example.test", "password": "old-password-1"})
    assert (await sign_in(t, "password", {"flow": "signIn", "email": "fa@example.test",
                                          "password": "new-password-2"}))["tokens"]
    # The code was single-use.
    with pytest.raises(ConvexError, match="Could not verify code"):
        await sign_in(t, "password", {"flow": "reset-verification", "email": "fa@example.test",
                                      "code": code, "newPassword": "third-password-3"})


async def test_email_verification_holds_sign_up_until_the_code(t, auth_env, mailbox):
    held = await sign_in(t, "password-verified", {"flow": "signUp", "email": "gu@example.test",
                                                  "password": "verify-me-1"})
    assert held == {"tokens": None}
    code = mailbox.code_for("gu@example.test")
    assert await t.run(lambda ctx: ctx.db.query("authSessions").collect()) == []
    done = await sign_in(t, "password-verified", {"flow": "email-verification", "email": "gu@example.test",
                                                  "code": code})
    assert done["tokens"] is not None
    user = await t.run(lambda ctx: ctx.db.query("users").unique())
    assert user["email"] == "gu@example.test" and user["emailVerificationTime"] > 0
    account = await t.run(lambda ctx: ctx.db.query("authAccounts").unique())
    assert account["emailVerified"] == "gu@example.test"
    # Verified now: a later sign-in gets tokens straight away, and sends no mail.
    sent = len(mailbox.messages)
    again = await sign_in(t, "password-verified", {"flow": "signIn", "email": "gu@example.test",
                                                   "password": "verify-me-1"})
    assert again["tokens"] is not None and len(mailbox.messages) == sent


async def test_anonymous_sign_in_makes_a_new_user_each_time(t, auth_env):
    a = await sign_in(t, "anonymous", {})
    b = await sign_in(t, "anonymous", {})
    ua = (await (await as_user(t, auth_env, a["tokens"]["token"])).query("notes:me"))["userId"]
    ub = (await (await as_user(t, auth_env, b["tokens"]["token"])).query("notes:me"))["userId"]
    assert ua != ub
    users = await t.run(lambda ctx: ctx.db.query("users").collect())
    assert [u.get("isAnonymous") for u in users] == [True, True]


async def test_magic_link_by_email(t, auth_env, mailbox):
    started = await sign_in(t, "email", {"email": "hu@example.test", "redirectTo": "/inbox"})
    assert started == {"started": True}
    body = mailbox.last_text()
    link = re.search(r"(http\S+)", body).group(1)
    assert link.startswith(auth_env["SITE_URL"] + "/inbox?code=")
    code = parse_qs(urlsplit(link).query)["code"][0]
    assert len(code) == 32
    # The page the link opens calls signIn with the code (no provider), as the React client does.
    done = await t.action(SIGN_IN, {"params": {"code": code}})
    assert done["tokens"] is not None
    user = await t.run(lambda ctx: ctx.db.query("users").unique())
    assert user["email"] == "hu@example.test" and user["emailVerificationTime"] > 0
    assert await t.action(SIGN_IN, {"params": {"code": code}}) == {"tokens": None}  # single use
    with pytest.raises(ConvexError, match="Invalid `redirectTo`"):
        await sign_in(t, "email", {"email": "hu@example.test", "redirectTo": "https://evil.example/"})


async def test_expired_magic_link_is_refused(t, mailbox):
    await sign_in(t, "email", {"email": "iv@example.test"})
    code = parse_qs(urlsplit(re.search(r"(http\S+)", mailbox.last_text()).group(1)).query)["code"][0]
    await t.advance_time(11 * 60 * 1000)
    assert await t.action(SIGN_IN, {"params": {"code": code}}) == {"tokens": None}
    assert await t.run(lambda ctx: ctx.db.query("authVerificationCodes").collect()) == []


async def test_reset_for_an_unknown_email_looks_the_same_and_sends_nothing(t, mailbox):
    assert await sign_in(t, "password", {"flow": "reset", "email": "nobody@example.test"}) == {"tokens": None}
    assert mailbox.messages == []
    assert await t.run(lambda ctx: ctx.db.query("users").collect()) == []


async def test_guesses_at_an_unknown_email_are_limited_like_a_wrong_password(t):
    for _ in range(10):
        with pytest.raises(ConvexError, match="Invalid credentials"):
            await sign_in(t, "password", {"flow": "signIn", "email": "ghost@example.test", "password": "guess-123"})
    with pytest.raises(ConvexError, match="Too many failed attempts"):
        await sign_in(t, "password", {"flow": "signIn", "email": "ghost@example.test", "password": "guess-123"})
    assert await t.run(lambda ctx: ctx.db.query("users").collect()) == []


async def test_per_address_limit_in_the_test_harness(t):
    """ConvexTest.with_request gives calls a client address, as the server would: the
    per-address allowance (100 an hour) is shared by every account tried from it."""
    for i in range(3):
        await sign_in(t, "password", {"flow": "signUp", "email": f"ip{i}@example.test", "password": "ip-pass-123"})
    meta = await t.with_request(ip="198.51.100.7", user_agent="pytest").mutation("notes:origin")
    assert meta == {"ip": "198.51.100.7", "userAgent": "pytest", "requestId": meta["requestId"],
                    "scheduledFunctionId": None, "authToken": None} and meta["requestId"]
    attacker = t.with_request(ip="198.51.100.7")
    await t.run(lambda ctx: ctx.db.insert("authRateLimits", {
        "identifier": "ip:198.51.100.7", "attemptsLeft": 1.5, "lastAttemptTime": ctx.now()}))
    with pytest.raises(ConvexError, match="Invalid credentials"):
        await sign_in(attacker, "password", {"flow": "signIn", "email": "ip0@example.test", "password": "nope-123"})
    with pytest.raises(ConvexError, match=r"Too many failed sign-in attempts from 198\.51\.100\.7 "
                                          r"\(100 an hour are allowed\); try again in 18 seconds\."):
        await sign_in(attacker, "password", {"flow": "signIn", "email": "ip1@example.test", "password": "ip-pass-123"})
    # The same account from another address, and without one, still signs in.
    ok = await sign_in(t.with_request(ip="198.51.100.8"), "password",
                       {"flow": "signIn", "email": "ip1@example.test", "password": "ip-pass-123"})
    assert ok["tokens"] is not None
    assert (await sign_in(t, "password", {"flow": "signIn", "email": "ip1@example.test",
                                          "password": "ip-pass-123"}))["tokens"] is not None
