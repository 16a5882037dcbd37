"""Convex validator JSON -> Python type expressions for generated code.

Object validators become functional-syntax ``TypedDict`` definitions (any field name is
allowed there, and optional fields are ``NotRequired``); ids become the per-table
``NewType`` of ``data_model.py`` so an id of one table is not accepted for another.
"""

from __future__ import annotations

import re
from typing import Any

from pyconvex.values import json_to_convex


def pascal(name: str) -> str:
    parts = re.split(r"[^0-9A-Za-z]+", name)
    out = "".join(p[:1].upper() + p[1:] for p in parts if p)
    return out if out and not out[0].isdigit() else "T" + out


def id_type(table: str) -> str:
    return pascal(table) + "Id"


class TypeWriter:
    """Collects the ``TypedDict`` definitions the type expressions refer to."""

    def __init__(self) -> None:
        self.definitions: list[str] = []
        self._names: set[str] = set()

    def _fresh(self, hint: str) -> str:
        name, n = hint, 2
        while name in self._names:
            name, n = f"{hint}{n}", n + 1
        self._names.add(name)
        return name

    def typed_dict(self, hint: str, fields: dict[str, Any], *, extra: dict[str, str] | None = None) -> str:
        name = self._fresh(hint)
        items = []
        for field, spec in fields.items():
            t = self.expr(spec["fieldType"], hint + pascal(field))
            if spec.get("optional"):
                t = f"NotRequired[{t}]"
            items.append(f"{field!r}: {t}")
        for field, t in (extra or {}).items():
            items.append(f"{field!r}: {t}")
        body = ", ".join(items)
        self.definitions.append(f'{name} = TypedDict("{name}", {{{body}}})')
        return name

    def expr(self, spec: dict[str, Any], hint: str) -> str:
        kind = spec.get("type")
        if kind == "string":
            return "str"
        if kind == "number":
            return "float"
        if kind == "bigint":
            return "int"
        if kind == "boolean":
            return "bool"
        if kind == "null":
            return "None"
        if kind == "bytes":
            return "bytes"
        if kind == "id":
            return id_type(spec["tableName"])
        if kind == "literal":
            value = json_to_convex(spec["value"])
            if isinstance(value, float):
                return "float"
            return f"Literal[{value!r}]"
        if kind == "array":
            return f"list[{self.expr(spec['value'], hint + 'Item')}]"
        if kind == "record":
            keys = self.expr(spec["keys"], hint + "Key")
            return f"dict[{keys}, {self.expr(spec['values']['fieldType'], hint + 'Value')}]"
        if kind == "object":
            return self.typed_dict(hint, spec["value"])
        if kind == "union":
            members = [self.expr(m, hint) for m in spec["value"]]
            unique = list(dict.fromkeys(members))
            return " | ".join(unique) if unique else "Any"
        return "Any"
