"""The client's address for ``ctx.meta.get_request_metadata()``: the peer, or what a
trusted proxy says.

By default the address is the TCP peer of the connection (uvicorn's ``scope["client"]``)
and ``X-Forwarded-For`` is ignored: any client can write that header, so believing it
would let anyone pick the address their sign-in attempts are charged to. Behind a
reverse proxy every peer is the proxy; ``pyconvex serve --trusted-proxy 10.0.0.0/8``
(repeatable; ``PYCONVEX_TRUSTED_PROXIES``, comma-separated, does the same) names the
proxies whose ``X-Forwarded-For`` is believed. The header is read from the right: each
trusted proxy appended the address it saw, so the first address from the right that is
not a trusted proxy is the client (addresses further left were written by the client,
and are not believed). The server also has uvicorn apply the same list
(``runner._proxy_settings``), so HTTP actions' ``request.client`` and scheme agree; read
again here from a scope uvicorn already rewrote, the header gives the same address.
"""

from __future__ import annotations

import functools
import ipaddress
import os
from collections.abc import Iterable
from typing import Any

from pyconvex.errors import BadRequestError
from pyconvex.functions.runtime.request_meta import RequestOrigin

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
TRUSTED_PROXIES_ENV = "PYCONVEX_TRUSTED_PROXIES"


def parse_trusted_proxies(values: Iterable[str]) -> tuple[Network, ...]:
    """``["127.0.0.1", "10.0.0.0/8", "::1"]`` as networks; a bad entry is an error naming it."""
    networks: list[Network] = []
    for value in values:
        text = value.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise BadRequestError(
                f"Trusted proxy {text!r} is not an IP address or network (examples: 127.0.0.1, "
                "10.0.0.0/8, ::1).", short_msg="BadTrustedProxy") from None
    return tuple(networks)


def trusted_proxies_from_env() -> tuple[Network, ...]:
    return parse_trusted_proxies(os.environ.get(TRUSTED_PROXIES_ENV, "").split(","))


@functools.lru_cache(maxsize=4096)
def _address(text: str) -> Address | None:
    """The address in ``text`` (a peer or one X-Forwarded-For entry), parsed once per
    distinct text: this runs on every call a client makes."""
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=4096)
def _text(peer: str) -> str | None:
    address = _address(peer)
    return str(address) if address is not None else None


def _trusted(address: Address, trusted: tuple[Network, ...]) -> bool:
    return any(address in network for network in trusted)


def client_ip(scope: Any, trusted: tuple[Network, ...]) -> str | None:
    """The client's address for this ASGI scope (None if the server has no peer, as
    over a Unix socket)."""
    client = scope.get("client")
    if not client:
        return None
    if not trusted:
        return _text(client[0])
    peer = _address(client[0])
    if peer is None:
        return None
    if not _trusted(peer, trusted):
        return str(peer)
    hops: list[str] = []
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            hops.extend(value.decode("latin-1").split(","))
    nearest = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # unreadable: the proxy that passed it on is the last address known
        nearest = address
        if not _trusted(address, trusted):
            break
    return str(nearest)


def request_origin(scope: Any, trusted: tuple[Network, ...], auth_token: str | None = None) -> RequestOrigin:
    """The origin of a request or connection: address, User-Agent, and the token it
    authenticated with (if any)."""
    user_agent = None
    for name, value in scope.get("headers", ()):
        if name == b"user-agent":
            user_agent = value.decode("latin-1")
            break
    return RequestOrigin(client_ip(scope, trusted), user_agent, auth_token)
