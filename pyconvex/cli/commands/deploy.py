"""``pyconvex deploy``: upload the functions directory; the server swaps code atomically."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import typer

from pyconvex.cli.options import FunctionsOption, TargetAdminKeyOption, UrlOption
from pyconvex.cli.target import fail, request, resolve

SKIP = {"_generated", "__pycache__", "node_modules"}


def pack_functions(root: Path) -> bytes:
    """The functions directory as a ZIP of its ``.py`` files (generated code excluded)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root)
            if any(p in SKIP or p.startswith(".") for p in rel.parts[:-1]):
                continue
            archive.write(path, rel.as_posix())
    return buffer.getvalue()


def deploy(
    functions: Path = FunctionsOption,
    url: str | None = UrlOption,
    admin_key: str | None = TargetAdminKeyOption,
) -> None:
    """Upload FUNCTIONS to a deployment. It loads the code and pushes the schema first; on
    any error the old code keeps serving. Connected clients stay connected and their
    live queries re-run with the new code.

    Examples:

      pyconvex deploy --url https://backend.example.com --admin-key "$ADMIN_KEY"

      PYCONVEX_URL=... PYCONVEX_ADMIN_KEY=... pyconvex deploy --functions backend
    """
    if not functions.is_dir():
        raise fail(f"The functions directory {functions} does not exist.")
    target = resolve(url, admin_key)
    body = request(target, "POST", "/api/pyconvex/deploy", content=pack_functions(functions),
                   timeout=300)
    typer.echo(f"Deployed {len(body['functions'])} functions to {target.url}.")
    if body.get("schema"):
        typer.echo(f"Schema: {body['schema']}")
