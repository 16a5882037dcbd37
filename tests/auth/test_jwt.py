"""Token verification against a real local issuer: identity, every refusal, JWKS caching.

The issuer (``tests/auth/issuer.py``) is an HTTP server on 127.0.0.1 serving OIDC
discovery and JWKS documents, and counting requests, so the cache tests assert what
really went over the wire. The JWKS cache runs on a fake monotonic clock so TTLs and
the refetch rate limit are tested without sleeping.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from pyconvex.auth import (
    AuthConfigError,
    CustomJwtProvider,
    JwksCache,
    OidcProvider,
    TokenVerifier,
    identity_from_claims,
    parse_providers,
)
from pyconvex.auth.jwks import cache_ttl
from pyconvex.errors import AuthError

from .issuer import Issuer, rsa_key

CUSTOM_ISSUER = "https://custom.example"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    server = Issuer()
    yield server
    server.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def verifier(issuer: Issuer, clock: FakeClock) -> AsyncIterator[TokenVerifier]:
    providers = [
        {"domain": issuer.url, "applicationID": "my-app"},
        {"type": "customJwt", "issuer": CUSTOM_ISSUER, "jwks": f"{issuer.url}/ec-jwks", "algorithm": "ES256"},
    ]
    async with TokenVerifier(providers, jwks=JwksCache(clock=clock)) as v:
        yield v


def b64(data: bytes | dict[str, Any]) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64(part: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def claims_for(issuer: Issuer, **claims: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": issuer.url, "sub": "user-1", "aud": "my-app", "iat": now, "exp": now + 600, **claims}


# --- what a valid token gives -------------------------------------------------------


async def test_valid_oidc_token_gives_convex_identity(issuer: Issuer, verifier: TokenVerifier):
    token = issuer.token(
        given_name="Ann", family_name="Lee", nickname="annie", preferred_username="ann",
        profile="https://p.example/ann", picture="https://p.example/ann.png", website="https://ann.example",
        gender="female", birthdate="1990-01-01", zoneinfo="Europe/Paris", locale="fr-FR",
        phone_number="+33 1", phone_number_verified="true", updated_at=1_700_000_000,
        address={"formatted": "1 rue X, Paris", "country": "FR"},
        team="blue", seats=3, org={"id": 7, "roles": ["admin"]},
        nonce="n", azp="client", auth_time=1, jti="j1", fva=[1, 2], **{"name#ja": "アン"},
    )
    identity = await verifier.verify(token)
    assert identity == {
        "tokenIdentifier": f"{issuer.url}|user-1",
        "subject": "user-1",
        "issuer": issuer.url,
        "name": "Ann",
        "email": "ann@example.com",
        "emailVerified": True,
        "givenName": "Ann",
        "familyName": "Lee",
        "nickname": "annie",
        "preferredUsername": "ann",
        "profileUrl": "https://p.example/ann",
        "pictureUrl": "https://p.example/ann.png",
        "websiteUrl": "https://ann.example",
        "gender": "female",
        "birthday": "1990-01-01",
        "timezone": "Europe/Paris",
        "language": "fr-FR",
        "phoneNumber": "+33 1",
        "phoneNumberVerified": True,
        "updatedAt": "2023-11-14T22:13:20+00:00",
        "address": "1 rue X, Paris",
        # Custom claims keep their names; JSON numbers are float64, as in Convex.
        "team": "blue",
        "seats": 3.0,
        "org": {"id": 7.0, "roles": ["admin"]},
    }


async def test_token_issuer_is_kept_verbatim_in_token_identifier(issuer: Issuer, verifier: TokenVerifier):
    identity = await verifier.verify(issuer.token(iss=issuer.url + "/"))  # Auth0 style trailing slash
    assert identity["tokenIdentifier"] == f"{issuer.url}/|user-1"
    assert identity["issuer"] == f"{issuer.url}/"


async def test_custom_claims_cannot_impersonate(issuer: Issuer, verifier: TokenVerifier):
    identity = await verifier.verify(issuer.token(subject="admin", tokenIdentifier="x|admin", emailVerified=False))
    assert identity["subject"] == "user-1"
    assert identity["tokenIdentifier"] == f"{issuer.url}|user-1"
    assert identity["emailVerified"] is True


async def test_audience_may_be_a_list(issuer: Issuer, verifier: TokenVerifier):
    assert (await verifier.verify(issuer.token(aud=["other", "my-app"])))["subject"] == "user-1"


async def test_eddsa_oidc_token(issuer: Issuer, verifier: TokenVerifier):
    assert (await verifier.verify(issuer.token(key=issuer.ed_key)))["subject"] == "user-1"


async def test_leeway_accepts_a_token_that_just_expired(issuer: Issuer, verifier: TokenVerifier):
    now = int(time.time())
    assert await verifier.verify(issuer.token(exp=now - 2, nbf=now + 2, iat=now + 2))


async def test_custom_jwt_provider_with_direct_jwks_url_and_es256(issuer: Issuer, verifier: TokenVerifier):
    token = issuer.token(key=issuer.ec_key, iss=CUSTOM_ISSUER, aud=None, email_verified=True,
                         org={"id": "o1", "plan": {"tier": 2}}, nbf=int(time.time()), jti="j")
    identity = await verifier.verify(token)
    # Convex keeps customJwt claims under their own names, nested objects flattened.
    assert identity == {
        "tokenIdentifier": f"{CUSTOM_ISSUER}|user-1",
        "subject": "user-1",
        "issuer": CUSTOM_ISSUER,
        "name": "Ann",
        "email": "ann@example.com",
        "email_verified": True,
        "org.id": "o1",
        "org.plan.tier": 2.0,
    }
    assert issuer.requests["/ec-jwks"] == 1 and issuer.fetches == (0, 0)
    with pytest.raises(AuthError, match=r"algorithm RS256 is not allowed for issuer https://custom\.example"):
        await verifier.verify(issuer.token(iss=CUSTOM_ISSUER))  # RS256 for an ES256 provider


async def test_custom_jwt_issuer_without_scheme_and_application_id(issuer: Issuer, clock: FakeClock):
    providers = [{"type": "customJwt", "issuer": "auth.example.com", "jwks": f"{issuer.url}/ec-jwks",
                  "algorithm": "ES256", "applicationID": "app-2"}]
    async with TokenVerifier(providers, jwks=JwksCache(clock=clock)) as v:
        identity = await v.verify(issuer.token(key=issuer.ec_key, iss="auth.example.com", aud="app-2"))
        assert identity["tokenIdentifier"] == "auth.example.com|user-1"
        with pytest.raises(AuthError, match="wrong audience") as info:
            await v.verify(issuer.token(key=issuer.ec_key, iss="auth.example.com", aud="my-app"))
        assert info.value.short_msg == "NoAuthProvider"


async def test_custom_jwt_with_data_url_jwks(issuer: Issuer):
    jwks = base64.b64encode(json.dumps({"keys": [issuer.ec_key.as_dict(private=False)]}).encode()).decode()
    providers = [{"type": "customJwt", "issuer": CUSTOM_ISSUER, "algorithm": "ES256",
                  "jwks": f"data:text/plain;charset=utf-8;base64,{jwks}"}]
    async with TokenVerifier(providers) as v:
        assert (await v.verify(issuer.token(key=issuer.ec_key, iss=CUSTOM_ISSUER)))["subject"] == "user-1"
    assert sum(issuer.requests.values()) == 0


# --- every refusal says what failed ---------------------------------------------------


def _tampered_payload(token: str) -> str:
    header, payload, signature = token.split(".")
    return f"{header}.{b64({**unb64(payload), 'sub': 'admin'})}.{signature}"


def _tampered_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[10] ^= 0x01
    return f"{header}.{payload}.{b64(bytes(raw))}"


def _alg_none(issuer: Issuer) -> str:
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims_for(issuer))}."


def _hs256_with_public_key(issuer: Issuer) -> str:
    # The classic confusion attack: HMAC keyed with the issuer's *public* key.
    key = issuer.rsa_keys[0]
    secret = json.dumps(key.as_dict(private=False)).encode()
    signing_input = f"{b64({'alg': 'HS256', 'kid': key.kid})}.{b64(claims_for(issuer))}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


REFUSALS: list[tuple[str, Callable[[Issuer], str], str, str]] = [
    ("expired", lambda i: i.token(exp=int(time.time()) - 120), "InvalidAuthHeader", r"^Token expired 2 min ago\.$"),
    ("not yet valid", lambda i: i.token(nbf=int(time.time()) + 600), "InvalidAuthHeader",
     r"not valid yet: its 'nbf' \(not before\) is 10 min from now"),
    ("issued in the future", lambda i: i.token(iat=int(time.time()) + 600), "InvalidAuthHeader",
     r"issued in the future"),
    ("wrong audience", lambda i: i.token(aud="someone-else"), "NoAuthProvider",
     r"wrong audience\. .*applicationID 'my-app', but the token has audience \['someone-else'\]"),
    ("no audience", lambda i: i.token(aud=None), "NoAuthProvider", r"wrong audience.*no audience \('aud' claim\)"),
    ("unknown issuer", lambda i: i.token(iss="https://unknown.example"), "NoAuthProvider",
     r"No auth provider found matching the given token: unknown issuer 'https://unknown\.example' "
     r"\(configured issuers: http://127\.0\.0\.1:\d+, https://custom\.example\)"),
    ("no issuer", lambda i: i.token(iss=None), "InvalidAuthHeader", r"Token has no issuer"),
    ("tampered payload", lambda i: _tampered_payload(i.token()), "InvalidAuthHeader",
     r"Token signature is invalid: it does not verify with the RS256 key \(kid 'rsa-\d+'\)"),
    ("tampered signature", lambda i: _tampered_signature(i.token()), "InvalidAuthHeader", r"signature is invalid"),
    ("signed by another key with the same kid", lambda i: i.token(key=rsa_key(3, kid=i.rsa_keys[0].kid)),
     "InvalidAuthHeader", r"signature is invalid"),
    ("unknown kid", lambda i: i.token(key=rsa_key(2, kid="stranger")), "InvalidAuthHeader",
     r"the JWKS of http://127\.0\.0\.1:\d+ has no RS256 key with key id \(kid\) 'stranger'"),
    ("alg none", _alg_none, "InvalidAuthHeader", r"alg 'none'\) are never accepted"),
    ("HS256 keyed with the public key", _hs256_with_public_key, "InvalidAuthHeader",
     r"symmetric algorithms \(HS256\) are never accepted"),
    ("RS384", lambda i: i.token(alg="RS384"), "InvalidAuthHeader", r"'RS384' is not allowed: it is not supported"),
    ("ES256 header on an RSA key id", lambda i: _with_header(i.token(), alg="ES256"), "InvalidAuthHeader",
     r"has no ES256 key with key id"),
    ("garbage", lambda i: "garbage", "InvalidAuthHeader", r"Malformed token: a JWT has three .* this has 1"),
    ("bad base64", lambda i: "a.b.c", "InvalidAuthHeader", r"Malformed token: the header is not base64url"),
    ("header not an object", lambda i: f"{b64(b'[1]')}.{b64({})}.", "InvalidAuthHeader",
     r"the header is not a JSON object"),
    ("no exp", lambda i: i.token(exp=None), "InvalidAuthHeader", r"no expiry"),
    ("exp not a number", lambda i: i.token(exp="tomorrow"), "InvalidAuthHeader", r"'exp' claim must be a number"),
    ("no iat from OIDC", lambda i: i.token(iat=None), "InvalidAuthHeader", r"no 'iat'"),
    ("no sub", lambda i: i.token(sub=None), "InvalidAuthHeader", r"no subject"),
    ("non-string kid", lambda i: _with_header(i.token(), kid=5), "InvalidAuthHeader", r"'kid' header must be a string"),
]


def _with_header(token: str, **fields: Any) -> str:
    header, payload, signature = token.split(".")
    return f"{b64({**unb64(header), **fields})}.{payload}.{signature}"


@pytest.mark.parametrize(("make", "short_msg", "message"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
async def test_refusals_say_what_failed(issuer: Issuer, verifier: TokenVerifier, make, short_msg, message):
    token = make(issuer)
    with pytest.raises(AuthError, match=message) as info:
        await verifier.verify(token)
    assert info.value.short_msg == short_msg
    # Messages reach clients: never the token, nor its signature.
    signature = token.split(".")[-1]
    assert token not in info.value.message
    assert len(signature) < 20 or signature not in info.value.message


async def test_no_providers_configured():
    async with TokenVerifier(None) as v:
        with pytest.raises(AuthError, match="no providers are configured") as info:
            await v.verify("a.b.c")
    assert info.value.short_msg == "NoAuthProvider"


# --- JWKS caching, rotation, rate limit -------------------------------------------------


async def test_jwks_is_cached(issuer: Issuer, verifier: TokenVerifier):
    for _ in range(5):
        await verifier.verify(issuer.token())
    assert issuer.fetches == (1, 1)


async def test_concurrent_cold_verifications_share_one_fetch(issuer: Issuer, verifier: TokenVerifier):
    identities = await asyncio.gather(*(verifier.verify(issuer.token(sub=f"u{n}")) for n in range(20)))
    assert [i["subject"] for i in identities] == [f"u{n}" for n in range(20)]
    assert issuer.fetches == (1, 1)


async def test_key_rotation_is_picked_up_with_one_refetch(issuer: Issuer, verifier: TokenVerifier, clock: FakeClock):
    old_token = issuer.token()
    await verifier.verify(old_token)
    clock.now += 60  # past the refetch rate limit, well within the 1 h TTL
    issuer.rotate()
    assert (await verifier.verify(issuer.token()))["subject"] == "user-1"
    assert issuer.fetches == (1, 2)  # the JWKS again, not the discovery document
    with pytest.raises(AuthError, match="has no RS256 key with key id"):
        await verifier.verify(old_token)  # its key is gone from the JWKS now
    assert issuer.fetches == (1, 2)  # ... and asking again within 30 s is not allowed


async def test_tokens_without_kid_try_every_fitting_key_and_follow_rotation(
    issuer: Issuer, verifier: TokenVerifier, clock: FakeClock
):
    assert await verifier.verify(issuer.token(header={"kid": None}))
    clock.now += 60
    issuer.rotate()
    assert await verifier.verify(issuer.token(header={"kid": None}))  # bad signature -> one refetch
    assert issuer.fetches == (1, 2)
    with pytest.raises(AuthError, match=r"does not verify with any RS256 key of http://127"):
        await verifier.verify(issuer.token(key=rsa_key(3), header={"kid": None}))
    assert issuer.fetches == (1, 2)


async def test_unknown_kids_cannot_hammer_the_issuer(issuer: Issuer, verifier: TokenVerifier, clock: FakeClock):
    await verifier.verify(issuer.token())
    clock.now += 60
    tokens = [issuer.token(key=rsa_key(2, kid=f"made-up-{n}")) for n in range(10)]
    for token in tokens:
        with pytest.raises(AuthError, match="has no RS256 key"):
            await verifier.verify(token)
    assert issuer.fetches == (1, 2)  # one refetch for the first unknown kid, then rate-limited
    # A real rotation inside the window waits for the window to pass.
    issuer.rotate()
    token = issuer.token()
    with pytest.raises(AuthError, match="has no RS256 key"):
        await verifier.verify(token)
    clock.now += 31
    assert await verifier.verify(token)
    assert issuer.fetches == (1, 3)


async def test_cache_control_max_age_is_respected(issuer: Issuer, verifier: TokenVerifier, clock: FakeClock):
    issuer.cache_control = "public, max-age=60"
    await verifier.verify(issuer.token())
    clock.now += 59
    await verifier.verify(issuer.token())
    assert issuer.fetches == (1, 1)
    clock.now += 2
    await verifier.verify(issuer.token())
    assert issuer.fetches == (2, 2)


async def test_default_ttl_is_one_hour(issuer: Issuer, verifier: TokenVerifier, clock: FakeClock):
    await verifier.verify(issuer.token())
    clock.now += 3599
    await verifier.verify(issuer.token())
    assert issuer.fetches == (1, 1)
    clock.now += 2
    await verifier.verify(issuer.token())
    assert issuer.fetches == (2, 2)


async def test_outage_keeps_cached_keys(issuer: Issuer, verifier: TokenVerifier, clock: FakeClock):
    await verifier.verify(issuer.token())
    issuer.failing["/jwks"] = 503
    clock.now += 3601
    assert await verifier.verify(issuer.token())  # stale keys beat logging everyone out
    assert issuer.fetches == (2, 2)


async def test_outage_on_cold_cache_is_reported_and_not_retried_at_once(
    issuer: Issuer, verifier: TokenVerifier, clock: FakeClock
):
    issuer.failing["/.well-known/openid-configuration"] = 500
    for _ in range(3):
        with pytest.raises(AuthError, match=r"Could not fetch the OpenID configuration .*: HTTP 500") as info:
            await verifier.verify(issuer.token())
        assert info.value.short_msg == "AuthProviderDiscoveryFailed"
    assert issuer.fetches == (1, 0)
    del issuer.failing["/.well-known/openid-configuration"]
    clock.now += 31
    assert await verifier.verify(issuer.token())


async def test_unreachable_jwks_url(issuer: Issuer, clock: FakeClock):
    providers = [{"type": "customJwt", "issuer": CUSTOM_ISSUER, "jwks": "http://127.0.0.1:9/jwks",
                  "algorithm": "ES256"}]
    async with TokenVerifier(providers, jwks=JwksCache(clock=clock)) as v:
        with pytest.raises(AuthError, match=r"Could not fetch the JWKS of https://custom.example from "
                                            r"http://127.0.0.1:9/jwks: ConnectError"):
            await v.verify(issuer.token(key=issuer.ec_key, iss=CUSTOM_ISSUER))


async def test_discovery_for_another_issuer_is_refused(issuer: Issuer, verifier: TokenVerifier):
    issuer.discovery_issuer = "https://evil.example"
    with pytest.raises(AuthError, match=r"is for issuer 'https://evil\.example'"):
        await verifier.verify(issuer.token())


async def test_jwks_without_signature_keys_is_refused(issuer: Issuer, clock: FakeClock):
    issuer.extra_jwks["/odd-jwks"] = {"keys": [
        {"kty": "oct", "k": "c2VjcmV0", "kid": "ec-1"},
        {**issuer.ec_key.as_dict(private=False), "use": "enc"},
        {"kty": "PQ", "kid": "future"},
    ]}
    providers = [{"type": "customJwt", "issuer": CUSTOM_ISSUER, "jwks": f"{issuer.url}/odd-jwks",
                  "algorithm": "ES256"}]
    async with TokenVerifier(providers, jwks=JwksCache(clock=clock)) as v:
        with pytest.raises(AuthError, match="holds no usable signature key"):
            await v.verify(issuer.token(key=issuer.ec_key, iss=CUSTOM_ISSUER))


@pytest.mark.parametrize(
    ("header", "ttl"),
    [(None, 3600.0), ("max-age=60", 60.0), ("public, max-age=0", 0.0), ("no-cache", 0.0),
     ("no-store, max-age=60", 0.0), ("max-age=9999999", 86400.0), ("max-age=soon", 3600.0), ("private", 3600.0)],
)
def test_cache_ttl(header: str | None, ttl: float):
    assert cache_ttl(header) == ttl


# --- identity mapping and config parsing -------------------------------------------------


def test_identity_from_custom_jwt_claims_drops_registered_claims():
    claims = {"iss": "https://a.example", "sub": "u", "aud": "x", "exp": 1, "iat": 1, "nbf": 1, "jti": "j",
              "fva": [1], "a": {"b": {"c": True}}, "list": [1, {"k": 2}]}
    assert identity_from_claims(claims, custom_jwt=True) == {
        "tokenIdentifier": "https://a.example|u", "subject": "u", "issuer": "https://a.example",
        "a.b.c": True, "list": [1.0, {"k": 2.0}],
    }


def test_identity_drops_mistyped_standard_claims():
    claims = {"iss": "i", "sub": "u", "email": 5, "email_verified": "maybe", "updated_at": "2024-01-01"}
    assert identity_from_claims(claims) == {
        "tokenIdentifier": "i|u", "subject": "u", "issuer": "i", "updatedAt": "2024-01-01",
    }


def test_parse_providers_normalizes():
    assert parse_providers([
        {"domain": "https://tenant.auth0.com/", "applicationID": "abc"},
        {"type": "customJwt", "issuer": "auth.example.com", "jwks": "https://auth.example.com/jwks",
         "algorithm": "RS256"},
    ]) == (
        OidcProvider(issuer="https://tenant.auth0.com", application_id="abc"),
        CustomJwtProvider(issuer="https://auth.example.com", jwks="https://auth.example.com/jwks",
                          algorithm="RS256", application_id=None),
    )
    assert parse_providers(None) == () and parse_providers([]) == ()


@pytest.mark.parametrize(
    ("providers", "message"),
    [
        ({"domain": "https://x.example"}, r"auth_config\.providers must be a list of provider dicts, got dict"),
        (["https://x.example"], r"providers\[0\] must be a dict, got str"),
        ([{"domain": "https://x.example"}], r"providers\[0\]\.applicationID is required for an OIDC provider"),
        ([{"applicationID": "a"}], r"providers\[0\]\.domain is required"),
        ([{"domain": "ftp://x.example", "applicationID": "a"}], r"providers\[0\]\.domain 'ftp://x.example' is not an"),
        ([{"domain": "my-client-id", "applicationID": "a"}], r"providers\[0\]\.domain 'my-client-id' does not look"),
        ([{"domain": "https://x.example", "applicationId": "a"}],
         r"providers\[0\] has an unknown field 'applicationId' \(did you mean 'applicationID'\?\)"),
        ([{"domain": "https://x.example", "applicationID": "a"}, {"type": "customJwt", "issuer": "https://i.example",
                                                                  "algorithm": "RS256"}],
         r"providers\[1\]\.jwks is required for a customJwt provider"),
        ([{"type": "customJwt", "issuer": "https://i.example", "jwks": "/jwks.json", "algorithm": "RS256"}],
         r"providers\[0\]\.jwks must be an http\(s\) or data: URL"),
        ([{"type": "customJwt", "issuer": "https://i.example", "jwks": "https://i.example/j", "algorithm": "HS256"}],
         r"providers\[0\]\.algorithm is 'HS256': customJwt providers support RS256 and ES256"),
        ([{"type": "customJwt", "issuer": "https://i.example", "jwks": "https://i.example/j", "algorithm": "RS256",
           "applicationID": 5}], r"providers\[0\]\.applicationID must be a non-empty string"),
        ([{"type": "saml", "domain": "https://x.example"}], r"providers\[0\]\.type is 'saml'"),
    ],
)
def test_config_errors_name_the_entry_and_field(providers: object, message: str):
    with pytest.raises(AuthConfigError, match=message) as info:
        parse_providers(providers)
    assert isinstance(info.value, AuthError) and info.value.short_msg == "InvalidAuthConfig"


async def test_verifier_rejects_a_bad_config_up_front():
    with pytest.raises(AuthConfigError, match=r"providers\[0\]\.applicationID"):
        TokenVerifier([{"domain": "https://x.example"}])


async def test_a_remembered_token_is_not_reverified_but_still_expires(issuer: Issuer, clock: FakeClock):
    now = [time.time()]
    providers = [{"domain": issuer.url, "applicationID": "my-app"}]
    async with TokenVerifier(providers, jwks=JwksCache(clock=clock), clock=lambda: now[0]) as verifier:
        token = issuer.token(exp=int(now[0]) + 10)
        first = await verifier.verify(token)
        first["name"] = "changed by the caller"
        assert (await verifier.verify(token))["subject"] == "user-1"
        assert (await verifier.verify(token)).get("name") != "changed by the caller"
        now[0] += 16  # past exp and the 5 s leeway
        with pytest.raises(AuthError, match="expired"):
            await verifier.verify(token)
