"""The database package imports without cycles (type-checking imports included): the
committer knows commit requests, not transactions; transactions know the few things
they need of a database (``TransactionHost``), not ``Database``."""

from __future__ import annotations

import pytest

from tests.import_graph import cycles, import_graph

pytestmark = pytest.mark.one_backend


def test_no_module_of_the_database_package_imports_itself_back():
    graph = import_graph("pyconvex.database")
    assert "pyconvex.database.transaction" in graph and len(graph) > 10
    assert cycles(graph) == []
