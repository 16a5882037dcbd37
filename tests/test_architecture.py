"""docs/architecture.md's map is the code's: the layer table names every package and
module under pyconvex/ and nothing else, in the order of the import-linter contract, and
the module map names every subpackage."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pyconvex"
DOC = (ROOT / "docs" / "architecture.md").read_text()


def _top_level() -> set[str]:
    """Packages (``values/``) and modules (``errors.py``) directly under pyconvex/."""
    names = {p.name + "/" for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    names |= {p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    return names


def _table_rows() -> list[list[str]]:
    """The first cell of each row of the layer table, split into its names."""
    section = DOC[DOC.index("## Layers"):DOC.index("## Module map")]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [re.findall(r"`([^`]+)`", row.split("|")[1]) for row in rows]


def _contract_layers() -> list[set[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (layers,) = [c["layers"] for c in config["tool"]["importlinter"]["contracts"]
                 if c["type"] == "layers"]
    return [{name.strip().removeprefix("pyconvex.") for name in layer.split("|")}
            for layer in layers]


def test_the_layer_table_names_every_package_and_only_packages_that_exist() -> None:
    named = {name for row in _table_rows() for name in row}
    assert named - _top_level() == set(), "named in the layer table, but not in pyconvex/"
    assert _top_level() - named - {"client/"} == set(), "in pyconvex/, but not in the layer table"
    assert "client/" in DOC[DOC.index("## Layers"):DOC.index("## Module map")]


def test_the_layer_table_is_the_import_contract_bottom_up() -> None:
    rows = [{name.removesuffix("/").removesuffix(".py") for name in row} for row in _table_rows()]
    assert rows == list(reversed(_contract_layers()))


def test_the_module_map_names_every_subpackage() -> None:
    block = DOC[DOC.index("## Module map"):]
    block = block[block.index("```") + 3:]
    block = block[:block.index("```")]
    listed: set[str] = set()
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        match = re.match(r"^( *)([\w.]+/)", line)
        if not match:
            continue
        indent, name = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = (stack[-1][1] if stack else "") + name
        stack.append((indent, path))
        listed.add(path.rstrip("/"))
    packages = {str(p.parent.relative_to(ROOT)) for p in PACKAGE.rglob("__init__.py")}
    assert packages - listed == set(), "subpackages missing from the module map"
    assert listed - packages == set(), "the module map names packages that do not exist"
