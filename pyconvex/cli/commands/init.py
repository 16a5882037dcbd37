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


def init(
    directory: Path = typer.Argument(Path("."), help="Project folder (created if missing)."),
    functions: str = typer.Option("convex", "--functions", help="Name of the functions folder."),
) -> None:
    """Create FUNCTIONS/schema.py and FUNCTIONS/messages.py in DIRECTORY, and ignore
    .pyconvex/ in git. Existing files are never overwritten.

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
    typer.echo(f"Created {root}/schema.py and {root}/messages.py.")
    typer.echo(f"Next: cd {directory} && pyconvex dev   then   pyconvex run messages:list")
