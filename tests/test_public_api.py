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
