"""Which deployment a command talks to, and the admin HTTP calls it makes there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import typer

from pyconvex.dev import read_deployment_info


@dataclass(frozen=True)
class Target:
    url: str
    admin_key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Convex {self.admin_key}"}


def fail(message: str) -> typer.Exit:
    typer.secho(f"pyconvex: {message}", err=True, fg="red")
    return typer.Exit(1)


def resolve(url: str | None, admin_key: str | None) -> Target:
    """``--url``/``--admin-key`` (or their env vars), else ``.pyconvex/deployment.json``."""
    info = read_deployment_info()
    url = url or (info.url if info else None)
    if not url:
        raise fail("No deployment: run `pyconvex dev` in this project, or pass --url and --admin-key.")
    if admin_key is None and info is not None and info.url.rstrip("/") == url.rstrip("/"):
        admin_key = info.admin_key
    if not admin_key:
        raise fail(f"No admin key for {url}: pass --admin-key (or set PYCONVEX_ADMIN_KEY).")
    return Target(url.rstrip("/"), admin_key)


def request(
    target: Target, method: str, path: str, *, timeout: float = 60.0, **kwargs: Any
) -> Any:
    """An admin API call; failures become one clear line and exit code 1."""
    try:
        response = httpx.request(
            method, target.url + path, headers=target.auth, timeout=timeout, **kwargs
        )
    except httpx.ConnectError:
        raise fail(
            f"Cannot reach the deployment at {target.url}: is `pyconvex dev` (or serve) running?"
        ) from None
    except httpx.HTTPError as e:
        raise fail(f"{method} {path} failed: {e}") from None
    if response.status_code >= 400:
        try:
            body = response.json()
            message = f"{body.get('code')}: {body.get('message')}"
        except ValueError:
            message = response.text[:500]
        raise fail(message)
    if response.headers.get("content-type", "").startswith("application/json"):
        return orjson.loads(response.content)
    return response
