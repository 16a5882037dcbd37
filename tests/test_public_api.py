"""The curated public surface matches what the packages really export."""

from __future__ import annotations

import importlib

import pytest

import pyconvex


@pytest.mark.parametrize("module", ["pyconvex", "pyconvex.testing", "pyconvex.values", "pyconvex.client",
                                    "pyconvex.helpers", "pyconvex.ratelimit"])
def test_all_is_sorted_and_importable(module: str):
    mod = importlib.import_module(module)
    names = list(mod.__all__)
    # isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions.
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[:1].isupper(), n))
    for name in names:
        assert getattr(mod, name) is not None


def test_user_surface_matches_api_md():
    expected = {
        "define_schema", "define_table", "v", "query", "mutation", "action",
        "internal_query", "internal_mutation", "internal_action", "ConvexError",
        "REMOVE", "Id", "api", "internal", "pagination_opts_validator",
    }
    assert expected <= set(pyconvex.__all__)


def _documented_surfaces() -> dict[str, set[str]]:
    """``docs/api.md`` §14: ``- `package`: `name`, `name`, ...`` per curated package."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text()
    section = text[text.index("## 14. Public names"):]
    surfaces: dict[str, set[str]] = {}
    for item in re.findall(r"^- (`pyconvex[\w.]*`):(.*?)(?=^- |^\S|\Z)", section, re.M | re.S):
        package, names = item[0].strip("`"), item[1]
        surfaces[package] = set(re.findall(r"`([^`]+)`", names))
    return surfaces


def test_the_exports_are_exactly_the_documented_surface():
    """httpx's habit: adding or dropping a public name is a deliberate edit of the
    contract (docs/api.md §14), never an accident of an import."""
    import types

    surfaces = _documented_surfaces()
    assert set(surfaces) == {"pyconvex", "pyconvex.client", "pyconvex.testing", "pyconvex.values"}
    for package, documented in surfaces.items():
        mod = importlib.import_module(package)
        assert set(mod.__all__) == documented, f"{package}: __all__ differs from docs/api.md §14"
        # ... and __all__ is everything public the package defines (nothing unlisted).
        public = {name for name, value in vars(mod).items()
                  if not name.startswith("_") and not isinstance(value, types.ModuleType)
                  and name not in {"annotations", "TYPE_CHECKING", "Any"}}
        lazy = set(getattr(mod, "_EXPORTS", {}))
        assert public | lazy <= set(mod.__all__), f"{package}: public but not exported: {(public | lazy) - set(mod.__all__)}"
