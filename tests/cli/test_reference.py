"""docs/cli.md is the CLI's own --help, current; every --help ends with examples."""

from __future__ import annotations

from pathlib import Path

from pyconvex.cli.reference import _commands, _help, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_docs_cli_md_is_generated_from_help() -> None:
    assert DOC.read_text() == render(), (
        "docs/cli.md is out of date: run `python -m pyconvex.cli.reference > docs/cli.md`"
    )


def test_every_help_ends_with_examples() -> None:
    for args in [[], *_commands()]:
        text = _help(args)
        tail = text[text.rindex("Examples:"):] if "Examples:" in text else ""
        assert tail and "Options:" not in tail, f"pyconvex {' '.join(args)} --help: no examples last"
        assert "pyconvex " in tail
