"""``pyconvex init``: scaffold a project with a schema and a first function."""

from __future__ import annotations

from pathlib import Path

import typer

from pyconvex.cli.target import fail

SCHEMA = '''from pyconvex import define_schema, define_table, v

schema = define_schema({
    "messages": define_table({
        "author": v.string(),
        "body": v.string(),
    }),
})
'''

MESSAGES = '''from pyconvex import mutation, query, v


@query(args={})
async def list(ctx):
    """The latest 50 messages, oldest first."""
    messages = await ctx.db.query("messages").order("desc").take(50)
    return list_reversed(messages)


@mutation(args={"author": v.string(), "body": v.string()})
async def send(ctx, author, body):
    await ctx.db.insert("messages", {"author": author, "body": body})


def list_reversed(items):
    return items[::-1]
'''


MYPY_INI = """# mypy for this project: `pyconvex codegen && mypy .` (the functions folder has no
# __init__.py, so its files are named from this folder: convex/_generated/api.py is
# convex._generated.api whether mypy finds it by path or by import).
[mypy]
explicit_package_bases = True
"""


def _mypy_config(directory: Path) -> str | None:
    """Write ``mypy.ini`` unless the project configures mypy already; say what to add then."""
    pyproject = directory / "pyproject.toml"
    configured = [p for p in (directory / "mypy.ini", directory / ".mypy.ini") if p.exists()]
    if pyproject.exists() and "[tool.mypy]" in pyproject.read_text():
        configured.append(pyproject)
    if configured:
        return (f"{configured[0]} configures mypy: add explicit_package_bases = true to it so "
                "`mypy .` names the functions folder's files once.")
    (directory / "mypy.ini").write_text(MYPY_INI)
    return None


def init(
    directory: Path = typer.Argument(Path("."), help="Project folder (created if missing)."),
    functions: str = typer.Option("convex", "--functions", help="Name of the functions folder."),
) -> None:
    """Create FUNCTIONS/schema.py and FUNCTIONS/messages.py in DIRECTORY, a mypy.ini
    (unless mypy is configured there already) so `pyconvex codegen && mypy .` works, and
    ignore .pyconvex/ in git. Existing files are never overwritten.

    Examples:

      pyconvex init myapp && cd myapp && pyconvex dev

      pyconvex init . --functions backend
    """
    root = directory / functions
    files = {root / "schema.py": SCHEMA, root / "messages.py": MESSAGES}
    existing = [str(p) for p in files if p.exists()]
    if existing:
        raise fail("Refusing to overwrite " + ", ".join(existing) + ".")
    root.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text)
    ignore = directory / ".gitignore"
    lines = ignore.read_text().splitlines() if ignore.exists() else []
    if ".pyconvex/" not in lines:
        ignore.write_text("\n".join([*lines, ".pyconvex/", f"{functions}/_generated/"]) + "\n")
    hint = _mypy_config(directory)
    typer.echo(f"Created {root}/schema.py and {root}/messages.py" + (", mypy.ini." if hint is None else "."))
    if hint is not None:
        typer.echo(hint)
    typer.echo(f"Next: cd {directory} && pyconvex dev   then   pyconvex run messages:list")
