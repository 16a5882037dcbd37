"""Fetching and caching the JSON Web Key Sets that user tokens are verified with.

Invariants:

1. **Cached.** A JWKS is reused for its response's ``Cache-Control: max-age`` (one hour
   when absent; ``no-cache``/``no-store`` mean "revalidate when allowed"). OIDC providers
   cost two requests per load (``<issuer>/.well-known/openid-configuration``, then its
   ``jwks_uri``), and the discovery document is cached the same way.
2. **Key rotation.** When a token names a key the cached set lacks, the verifier calls
   :meth:`JwksCache.refresh`: one refetch, shared by every task that saw the same set.
3. **Rate-limited.** The network is asked at most once per ``min_refetch_interval``
   (30 s) per key source, whatever the reason, so tokens with made-up ``kid`` values
   cannot turn us into a load generator against the issuer. A failed fetch is
   remembered for as long and re-raised, and a failed refresh keeps the keys we had,
   so a short issuer outage does not log everybody out.

Only signature keys of asymmetric types (RSA, EC, OKP) are kept: an ``oct`` (shared
secret) entry, an encryption key (``use: enc``) or a key we cannot import is skipped
rather than failing the whole set, as RFC 7517 §5 asks.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, Key, OKPKey, RSAKey

from pyconvex.auth.config import AuthProvider, OidcProvider, normalize_issuer
from pyconvex.errors import AuthError

DEFAULT_TTL_S = 3600.0
MAX_TTL_S = 86400.0
MIN_REFETCH_INTERVAL_S = 30.0
HTTP_TIMEOUT_S = 10.0

#: What each accepted algorithm needs from a key: its ``kty`` and, for EC/OKP, its curve.
_KEY_SHAPES: dict[str, tuple[type[Key], str | None]] = {
    "RS256": (RSAKey, None),
    "ES256": (ECKey, "P-256"),
    "EdDSA": (OKPKey, "Ed25519"),
}
_ASYMMETRIC_KTY = frozenset({"RSA", "EC", "OKP"})


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One usable public key from a JWKS."""

    kid: str | None
    alg: str | None
    """The JWK's own ``alg`` member: when present, the key may only verify that algorithm."""
    key: Key

    def fits(self, alg: str) -> bool:
        """Whether this key can verify an ``alg`` signature (right type, curve and pinning)."""
        shape = _KEY_SHAPES.get(alg)
        if shape is None or (self.alg is not None and self.alg != alg):
            return False
        key_class, curve = shape
        return isinstance(self.key, key_class) and (curve is None or self.key.get("crv") == curve)


@dataclass(frozen=True, slots=True)
class KeySnapshot:
    """The keys of one successful load; ``generation`` tells loads apart."""

    keys: tuple[VerificationKey, ...]
    generation: int

    def candidates(self, alg: str, kid: str | None) -> list[VerificationKey]:
        """Keys that may have signed a token with this ``alg`` and ``kid`` (any kid if None)."""
        return [k for k in self.keys if k.fits(alg) and (kid is None or k.kid == kid)]


@dataclass
class _Slot:
    snapshot: KeySnapshot | None = None
    expires_at: float = 0.0
    last_attempt: float | None = None
    error: tuple[str, str] | None = None
    jwks_uri: str | None = None
    jwks_uri_expires_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class JwksCache:
    """Per-provider JWKS cache shared by every token verification of a deployment.

    >>> cache = JwksCache()
    >>> snapshot = await cache.keys(provider)           # cached, or fetched once
    >>> snapshot = await cache.refresh(provider, snapshot)  # a token named an unknown kid
    >>> await cache.aclose()

    ``client`` lets callers share or stub the ``httpx.AsyncClient``; one the cache
    creates itself (lazily, on the first fetch) is closed by :meth:`aclose`. ``clock``
    is monotonic seconds and exists for tests.
    """

    def __init__(
        self,
        *,
        client: httpx.AsyncClient | None = None,
        default_ttl_s: float = DEFAULT_TTL_S,
        min_refetch_interval_s: float = MIN_REFETCH_INTERVAL_S,
        timeout_s: float = HTTP_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.default_ttl_s = default_ttl_s
        self.min_refetch_interval_s = min_refetch_interval_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._client = client
        self._owns_client = client is None
        self._slots: dict[str, _Slot] = {}

    async def aclose(self) -> None:
        """Close the HTTP client if this cache created it."""
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def keys(self, provider: AuthProvider) -> KeySnapshot:
        """The provider's keys: cached while fresh, else (re)loaded if the rate limit allows."""
        slot = self._slot(provider)
        if slot.snapshot is not None and self._clock() < slot.expires_at:
            return slot.snapshot
        async with slot.lock:
            # Another task may have loaded the keys while this one waited for the lock.
            if slot.snapshot is not None and self._clock() < slot.expires_at:
                return slot.snapshot
            return await self._load_if_allowed(slot, provider)

    async def refresh(self, provider: AuthProvider, seen: KeySnapshot) -> KeySnapshot:
        """Refetch because ``seen`` lacks a token's key (rotation), at most once per interval.

        Tasks that saw the same snapshot share one fetch; when the rate limit forbids a
        fetch the current keys come back unchanged.
        """
        slot = self._slot(provider)
        async with slot.lock:
            if slot.snapshot is not None and slot.snapshot.generation != seen.generation:
                return slot.snapshot
            return await self._load_if_allowed(slot, provider)

    def _slot(self, provider: AuthProvider) -> _Slot:
        # OIDC keys belong to the issuer; custom JWT keys to their URL (two providers
        # naming the same URL share one cache entry and one rate limit).
        key = f"oidc:{provider.issuer}" if isinstance(provider, OidcProvider) else f"jwks:{provider.jwks}"
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot()
        return slot

    async def _load_if_allowed(self, slot: _Slot, provider: AuthProvider) -> KeySnapshot:
        now = self._clock()
        if slot.last_attempt is not None and now - slot.last_attempt < self.min_refetch_interval_s:
            if slot.snapshot is not None:
                return slot.snapshot
            assert slot.error is not None
            message, short_msg = slot.error
            raise AuthError(message, short_msg=short_msg)
        slot.last_attempt = now
        try:
            keys, ttl = await self._fetch_keys(slot, provider)
        except AuthError as e:
            slot.error = (e.message, e.short_msg)
            if slot.snapshot is None:
                raise
            return slot.snapshot
        generation = slot.snapshot.generation + 1 if slot.snapshot else 1
        slot.snapshot = KeySnapshot(keys, generation)
        slot.expires_at = now + ttl
        slot.error = None
        return slot.snapshot

    async def _fetch_keys(
        self, slot: _Slot, provider: AuthProvider
    ) -> tuple[tuple[VerificationKey, ...], float]:
        if isinstance(provider, OidcProvider):
            uri = await self._discover_jwks_uri(slot, provider)
        else:
            uri = provider.jwks
        if uri.startswith("data:"):
            data, ttl, where = _read_data_url(uri), MAX_TTL_S, "the data: URL JWKS"
        else:
            data, ttl = await self._get_json(uri, f"the JWKS of {provider.issuer}", "InvalidAuthHeader")
            where = uri
        return parse_jwks(data, where), ttl

    async def _discover_jwks_uri(self, slot: _Slot, provider: OidcProvider) -> str:
        if slot.jwks_uri is not None and self._clock() < slot.jwks_uri_expires_at:
            return slot.jwks_uri
        short = "AuthProviderDiscoveryFailed"
        url = f"{provider.issuer}/.well-known/openid-configuration"
        doc, ttl = await self._get_json(url, f"the OpenID configuration of {provider.issuer}", short)
        if not isinstance(doc, dict) or not isinstance(doc.get("jwks_uri"), str):
            raise AuthError(f"The OpenID configuration at {url} has no jwks_uri.", short_msg=short)
        # OIDC Discovery §4.3: the document must be about the issuer we asked for.
        issuer = doc.get("issuer")
        if isinstance(issuer, str) and normalize_issuer(issuer) != provider.issuer:
            raise AuthError(
                f"The OpenID configuration at {url} is for issuer {issuer!r}, not {provider.issuer!r}.",
                short_msg=short,
            )
        slot.jwks_uri = doc["jwks_uri"]
        slot.jwks_uri_expires_at = self._clock() + ttl
        return slot.jwks_uri

    async def _get_json(self, url: str, what: str, short_msg: str) -> tuple[Any, float]:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout_s, follow_redirects=True)
        try:
            response = await self._client.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as e:
            raise AuthError(
                f"Could not fetch {what} from {url}: {type(e).__name__}.", short_msg=short_msg
            ) from None
        if response.status_code != 200:
            raise AuthError(
                f"Could not fetch {what} from {url}: HTTP {response.status_code}.", short_msg=short_msg
            )
        try:
            data = response.json()
        except ValueError:
            raise AuthError(f"{url} did not return JSON for {what}.", short_msg=short_msg) from None
        return data, cache_ttl(response.headers.get("cache-control"), self.default_ttl_s)


def cache_ttl(cache_control: str | None, default: float = DEFAULT_TTL_S) -> float:
    """Seconds a response may be reused: ``max-age`` (capped at a day), 0 for no-cache."""
    if not cache_control:
        return default
    directives = [d.strip().lower() for d in cache_control.split(",")]
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    for directive in directives:
        name, _, value = directive.partition("=")
        if name.strip() == "max-age":
            try:
                return min(max(float(int(value.strip().strip('"'))), 0.0), MAX_TTL_S)
            except ValueError:
                return default
    return default


def parse_jwks(data: object, where: str) -> tuple[VerificationKey, ...]:
    """The usable signature keys of a JWKS document; AuthError if there are none."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise AuthError(f"{where} is not a JWKS (a JSON object with a 'keys' list).",
                        short_msg="InvalidAuthHeader")
    keys = []
    for jwk in data["keys"]:
        if not isinstance(jwk, dict) or jwk.get("kty") not in _ASYMMETRIC_KTY:
            continue
        if jwk.get("use", "sig") != "sig":
            continue
        ops = jwk.get("key_ops")
        if isinstance(ops, list) and "verify" not in ops:
            continue
        try:
            key = JWKRegistry.import_key(jwk)
        except (JoseError, ValueError, TypeError, KeyError):
            continue
        kid, alg = jwk.get("kid"), jwk.get("alg")
        keys.append(VerificationKey(
            kid if isinstance(kid, str) else None, alg if isinstance(alg, str) else None, key
        ))
    if not keys:
        raise AuthError(f"{where} holds no usable signature key (RSA, EC or OKP).",
                        short_msg="InvalidAuthHeader")
    return tuple(keys)


def _read_data_url(url: str) -> Any:
    # data:[<media type>][;base64],<data>: Convex accepts these for customJwt "jwks" so a
    # deployment can pin its keys without hosting them.
    header, sep, payload = url[len("data:"):].partition(",")
    try:
        if not sep:
            raise ValueError("no comma")
        raw = base64.b64decode(payload, validate=False) if header.endswith(";base64") \
            else unquote_to_bytes(payload)
        return json.loads(raw)
    except (ValueError, binascii.Error):
        raise AuthError("The data: URL given as jwks is not base64 or URL-encoded JSON.",
                        short_msg="InvalidAuthHeader") from None
