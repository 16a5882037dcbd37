"""The schema package's public surface and its place in the layers."""

from __future__ import annotations

import ast
import importlib
import pathlib
import sys

import pyconvex.schema as schema

PACKAGE = pathlib.Path(schema.__file__).parent


def test_all_is_sorted_and_importable():
    names = list(schema.__all__)
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[:1].isupper(), n))
    for name in names:
        assert getattr(schema, name) is not None
    expected = {
        "v", "Validator", "ValidationFailure", "Check", "IdResolver", "define_schema", "define_table",
        "SchemaDefinition", "TableDefinition", "IndexDefinition", "SearchIndexDefinition",
        "VectorIndexDefinition", "diff_schemas", "SchemaDiff", "validator_from_annotation",
        "args_validator_from_signature", "validator_from_json", "pagination_opts_validator",
    }
    assert expected <= set(names)
    assert schema.ValidationFailure is importlib.import_module("pyconvex.schema.validators").ValidationFailure


def test_imports_only_values_errors_and_the_stdlib():
    allowed_prefixes = ("pyconvex.values", "pyconvex.errors", "pyconvex.schema")
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                assert (
                    module == "__future__"
                    or module.startswith(allowed_prefixes)
                    or top in sys.stdlib_module_names
                ), f"{path.name} imports {module}"


def test_module_sizes_and_docstrings():
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), f"{path.name} has no module docstring"
        lines = len(path.read_text().splitlines())
        assert lines <= 450, f"{path.name} has {lines} lines"
