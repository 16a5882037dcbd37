"""The function runtime imports without cycles (type-checking imports and package
``__init__`` modules included): the ctx objects know the runner through a protocol
(``runtime/runner_api.py``), not its class."""

from __future__ import annotations

import pytest

from tests.import_graph import cycles, import_graph

pytestmark = pytest.mark.one_backend


def test_no_module_of_the_functions_package_imports_itself_back() -> None:
    graph = import_graph("pyconvex.functions")
    assert "pyconvex.functions.runtime.executor" in graph
    assert "pyconvex.functions.isolation.pool" in graph
    assert cycles(graph) == []
