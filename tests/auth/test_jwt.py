"""Token verification against a real local issuer (discovery, JWKS, rotation, caching)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from pyconvex.auth import AuthConfigError, JwksCache, TokenVerifier, parse_providers
from pyconvex.errors import AuthError

from .issuer import Issuer


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    server = Issuer()
    yield server
    server.close()


@pytest.fixture
async def verifier(issuer: Issuer) -> AsyncIterator[TokenVerifier]:
    v = TokenVerifier(
        [{"domain": issuer.url, "applicationID": "my-app"},
         {"type": "customJwt", "issuer": "https://custom.example", "jwks": f"{issuer.url}/ec-jwks",
          "algorithm": "ES256"}],
        jwks=JwksCache(refetch_after_s=0),
    )
    yield v
    await v.aclose()


async def test_valid_token_gives_the_identity(issuer: Issuer, verifier: TokenVerifier):
    identity = await verifier.verify(issuer.token(team="blue"))
    assert identity["tokenIdentifier"] == f"{issuer.url}|user-1"
    assert identity["subject"] == "user-1" and identity["issuer"] == issuer.url
    assert identity["name"] == "Ann" and identity["emailVerified"] is True
    assert identity["team"] == "blue"
    assert "exp" not in identity


async def test_jwks_is_cached(issuer: Issuer, verifier: TokenVerifier):
    for _ in range(5):
        await verifier.verify(issuer.token())
    assert issuer.requests.count("/jwks") == 1
    assert issuer.requests.count("/.well-known/openid-configuration") == 1


async def test_key_rotation_is_picked_up_with_one_refetch(issuer: Issuer, verifier: TokenVerifier):
    await verifier.verify(issuer.token())
    issuer.rotate()
    identity = await verifier.verify(issuer.token())
    assert identity["subject"] == "user-1"
    assert issuer.requests.count("/jwks") == 2


def _tamper(token: str) -> str:
    header, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{sig}"


def _alg_none(issuer: Issuer) -> str:
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")  # noqa: E731
    return f"{enc({'alg': 'none'})}.{enc({'iss': issuer.url, 'sub': 'x', 'aud': 'my-app', 'exp': time.time() + 60})}."


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda i: i.token(exp=int(time.time()) - 120), "Token expired"),
        (lambda i: i.token(nbf=int(time.time()) + 600), "not valid yet"),
        (lambda i: i.token(aud="someone-else"), "audience"),
        (lambda i: i.token(iss="https://unknown.example"), "No auth provider found"),
        (lambda i: _tamper(i.token()), "signature could not be verified"),
        (lambda i: _alg_none(i), "algorithm 'none' is not allowed"),
        (lambda i: "garbage", "Malformed token"),
        (lambda i: i.token(sub=None), "subject"),
    ],
)
async def test_bad_tokens_say_what_failed(issuer: Issuer, verifier: TokenVerifier, make, message):
    with pytest.raises(AuthError, match=message):
        await verifier.verify(make(issuer))


async def test_custom_jwt_provider_with_es256(issuer: Issuer, verifier: TokenVerifier):
    token = issuer.token(key=issuer.ec_key, alg="ES256", iss="https://custom.example", aud=None)
    identity = await verifier.verify(token)
    assert identity["tokenIdentifier"] == "https://custom.example|user-1"
    with pytest.raises(AuthError, match="not allowed"):
        await verifier.verify(issuer.token(iss="https://custom.example"))  # RS256 for an ES256 provider


def test_provider_config_errors_name_the_field():
    with pytest.raises(AuthConfigError, match=r"providers\[0\]\.applicationID"):
        parse_providers([{"domain": "https://x"}])
    with pytest.raises(AuthConfigError, match=r"providers\[1\]\.jwks"):
        parse_providers([{"domain": "https://x", "applicationID": "a"}, {"type": "customJwt", "issuer": "i", "algorithm": "RS256"}])
    with pytest.raises(AuthConfigError, match="HS256"):
        parse_providers([{"type": "customJwt", "issuer": "i", "jwks": "j", "algorithm": "HS256"}])
