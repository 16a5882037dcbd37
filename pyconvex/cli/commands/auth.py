"""``pyconvex auth``: set up pyconvex.auth's signing keys; list and end sign-in sessions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer

from pyconvex.auth import generate_keys
from pyconvex.cli.options import TargetAdminKeyOption, UrlOption
from pyconvex.cli.target import fail, request, resolve

auth_app = typer.Typer(
    name="auth",
    help="pyconvex.auth (docs/auth.md): signing keys and sessions of the deployment.",
    epilog=("\b\nExamples:\n  pyconvex auth init\n  pyconvex auth sessions\n"
            "  pyconvex auth revoke <sessionId>"),
    no_args_is_help=True,
)


def init(
    site_url: str = typer.Option(None, "--site-url", help="Also set SITE_URL, your web app's URL."),
    force: bool = typer.Option(False, "--force", help="Replace existing keys (signs everyone out)."),
    url: str | None = UrlOption,
    admin_key: str | None = TargetAdminKeyOption,
) -> None:
    """Create the deployment's signing key pair (JWT_PRIVATE_KEY and JWKS env variables).

    Examples:

      pyconvex auth init --site-url http://localhost:5173
    """
    target = resolve(url, admin_key)
    variables = request(target, "GET", "/api/pyconvex/env")["variables"]
    if ("JWT_PRIVATE_KEY" in variables or "JWKS" in variables) and not force:
        raise fail("JWT_PRIVATE_KEY or JWKS is set already; --force replaces them (every session ends).")
    changes: dict[str, str] = dict(generate_keys())
    if site_url:
        changes["SITE_URL"] = site_url.rstrip("/")
    request(target, "POST", "/api/pyconvex/env", json={"changes": changes})
    typer.echo(f"Set {', '.join(sorted(changes))}.")


def sessions(
    user: str | None = typer.Option(None, "--user", help="Only this user's sessions (a users id)."),
    url: str | None = UrlOption,
    admin_key: str | None = TargetAdminKeyOption,
) -> None:
    """List sign-in sessions, newest first: id, user, expiry (all of a user's; the newest
    1,000 of everyone's).

    Examples:

      pyconvex auth sessions --user <userId>
    """
    step: dict[str, str] = {"type": "listSessions", **({"userId": user} if user is not None else {})}
    docs = _store(url, admin_key, step)
    for doc in docs:
        expires = dt.datetime.fromtimestamp(doc["expirationTime"] / 1000, dt.UTC)
        expires_text = expires.isoformat(timespec="seconds")
        typer.echo(f"{doc['_id']}  user {doc['userId']}  expires {expires_text}")


def _store(url: str | None, admin_key: str | None, step: dict[str, str]) -> Any:
    """One step of the ``auth:store`` mutation, called with the admin key (the admin API
    for sessions, docs/auth.md)."""
    reply = request(resolve(url, admin_key), "POST", "/api/mutation",
                    json={"path": "auth:store", "args": {"args": step}, "format": "json"})
    if reply.get("status") == "error":
        raise fail(str(reply.get("errorData") or reply.get("errorMessage")))
    return reply.get("value")


def revoke(
    session_id: str = typer.Argument(None, help="The session to end."),
    user: str | None = typer.Option(None, "--user", help="End every session of this user instead."),
    url: str | None = UrlOption,
    admin_key: str | None = TargetAdminKeyOption,
) -> None:
    """End a session (or all of a user's): its refresh tokens stop working at once.

    Examples:

      pyconvex auth revoke <sessionId>
      pyconvex auth revoke --user <userId>
    """
    if (session_id is None) == (user is None):
        raise fail("Give a session id, or --user USER_ID (not both).")
    step = ({"type": "revokeSession", "sessionId": session_id} if session_id is not None
            else {"type": "invalidateSessions", "userId": user})
    _store(url, admin_key, step)
    typer.echo("Revoked.")
