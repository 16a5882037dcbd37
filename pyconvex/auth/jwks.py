"""Fetching and caching JSON Web Key Sets, with key rotation.

Keys are cached per provider for the response's ``Cache-Control: max-age`` (default one
hour). A token signed with an unknown ``kid`` triggers one refetch — the issuer may have
rotated its keys — but at most once per ``REFETCH_AFTER_S`` per provider, so garbage
tokens cannot make us hammer the issuer.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc.jwk import KeySet

from pyconvex.auth.config import Provider
from pyconvex.errors import AuthError

DEFAULT_TTL_S = 3600.0
REFETCH_AFTER_S = 30.0
_MAX_AGE = re.compile(r"max-age=(\d+)")


@dataclass
class _Entry:
    keys: KeySet
    kids: frozenset[str]
    expires: float
    fetched: float


class JwksCache:
    def __init__(
        self, client: httpx.AsyncClient | None = None, *, refetch_after_s: float = REFETCH_AFTER_S
    ) -> None:
        self.refetch_after_s = refetch_after_s
        self._client = client or httpx.AsyncClient(timeout=10.0, follow_redirects=True)
        self._owns_client = client is None
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetches = 0

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def keys_for(self, provider: Provider, kid: str | None) -> KeySet:
        entry = self._entries.get(provider.issuer)
        now = time.monotonic()
        stale = entry is None or entry.expires <= now
        unknown_kid = entry is not None and kid is not None and kid not in entry.kids
        if stale or (unknown_kid and now - entry.fetched >= self.refetch_after_s):  # type: ignore[union-attr]
            lock = self._locks.setdefault(provider.issuer, asyncio.Lock())
            async with lock:
                current = self._entries.get(provider.issuer)
                if current is entry:  # nobody refreshed it while we waited
                    entry = await self._fetch(provider)
                    self._entries[provider.issuer] = entry
                else:
                    entry = current
        assert entry is not None
        return entry.keys

    async def _get_json(self, url: str) -> tuple[Any, float]:
        try:
            response = await self._client.get(url)
        except httpx.HTTPError as e:
            raise AuthError(f"Could not fetch {url}: {e}", short_msg="AuthProviderUnreachable") from None
        if response.status_code != 200:
            raise AuthError(
                f"Could not fetch {url}: HTTP {response.status_code}",
                short_msg="AuthProviderUnreachable",
            )
        match = _MAX_AGE.search(response.headers.get("cache-control", ""))
        ttl = float(match.group(1)) if match else DEFAULT_TTL_S
        try:
            return response.json(), ttl
        except ValueError:
            raise AuthError(f"{url} did not return JSON", short_msg="AuthProviderUnreachable") from None

    async def _fetch(self, provider: Provider) -> _Entry:
        self.fetches += 1
        url = provider.jwks_url
        if url is None:
            discovery, _ = await self._get_json(f"{provider.issuer}/.well-known/openid-configuration")
            url = discovery.get("jwks_uri") if isinstance(discovery, dict) else None
            if not isinstance(url, str):
                raise AuthError(
                    f"{provider.issuer}: OpenID configuration has no jwks_uri",
                    short_msg="AuthProviderUnreachable",
                )
        data, ttl = await self._get_json(url)
        try:
            keys = KeySet.import_key_set(data)
        except Exception as e:
            raise AuthError(f"Invalid JWKS at {url}: {e}", short_msg="AuthProviderUnreachable") from None
        kids = frozenset(str(k.kid) for k in keys.keys if k.kid is not None)
        now = time.monotonic()
        return _Entry(keys, kids, now + ttl, now)
