"""Convex validator JSON (and handlers' return annotations) -> Python type expressions.

Object validators become functional-syntax ``TypedDict`` definitions (any field name is
allowed there, and optional fields are ``NotRequired``); ids become the per-table
``NewType`` of ``data_model.py`` so an id of one table is not accepted for another.

Names are given out by :class:`Names` once per generation, so two tables whose names
differ only in spelling (``my_table``/``myTable``), a table named like a system table's
type (``storage`` beside ``_storage``) or like a name the generated files import
(``any``, ``auth``) still get distinct, importable types.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict

from pyconvex.schema import validator_from_annotation
from pyconvex.values import IdTable, json_to_convex

SYSTEM_TABLES = ("_storage", "_scheduled_functions")
"""The system tables functions read (``ctx.db.system``): their ids get types too."""

RESERVED = frozenset({
    # what the generated files import or define themselves
    "Any", "Literal", "NewType", "NotRequired", "TypedDict", "Mapping", "Protocol", "overload",
    "TYPE_CHECKING", "ParamSpec", "TypeVar", "TableName", "KnownTableName", "Auth",
    "QueryBuilder", "PaginationResult", "FunctionReference", "DatabaseReader",
    "DatabaseWriter", "SystemReader", "QueryCtx", "MutationCtx", "ActionCtx", "Scheduler",
    "QueryStorage", "MutationStorage", "ActionStorage", "typed_reference", "api", "internal",
})
GENERATED_MODEL = "._generated.data_model"


def pascal(name: str) -> str:
    parts = re.split(r"[^0-9A-Za-z]+", name)
    out = "".join(p[:1].upper() + p[1:] for p in parts if p)
    return out if out and not out[0].isdigit() else "T" + out


class Names:
    """The type names of each table: ``Messages`` (as inserted), ``MessagesDoc`` (as
    stored), ``MessagesId``; unique among all tables and the reserved names."""

    def __init__(self, tables: Iterable[str]) -> None:
        self.taken: set[str] = set(RESERVED)
        self._base: dict[str, str] = {}
        for table in [*tables, *SYSTEM_TABLES]:
            stem = pascal(table)
            base, n = stem, 2
            while {base, base + "Doc", base + "Id"} & self.taken:
                base, n = f"{stem}{n}", n + 1
            self.taken |= {base, base + "Doc", base + "Id"}
            self._base[table] = base

    def base(self, table: str) -> str:
        return self._base[table]

    def doc(self, table: str) -> str:
        return self._base[table] + "Doc"

    def id(self, table: str) -> str:
        base = self._base.get(table)
        return base + "Id" if base is not None else "str"  # an id of a table the schema lacks


class TypeWriter:
    """Collects the ``TypedDict`` definitions the type expressions refer to.

    ``model`` prefixes the names defined in ``data_model.py`` when writing another file
    (``_dm.``), so those names never clash with the file's own imports."""

    def __init__(self, names: Names, model: str = "") -> None:
        self.names = names
        self.model = model
        self.definitions: list[str] = []
        self._names: set[str] = set(names.taken)

    def fresh(self, hint: str) -> str:
        name, n = hint, 2
        while name in self._names:
            name, n = f"{hint}{n}", n + 1
        self._names.add(name)
        return name

    def typed_dict(
        self, hint: str, fields: dict[str, Any], *, extra: dict[str, str] | None = None,
        name: str | None = None,
    ) -> str:
        name = name or self.fresh(hint)
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

    def id_type(self, table: str) -> str:
        name = self.names.id(table)
        return name if name == "str" else self.model + name

    def expr(self, spec: dict[str, Any], hint: str) -> str:
        kind = spec.get("type")
        simple = {"string": "str", "number": "float", "bigint": "int", "boolean": "bool",
                  "null": "None", "bytes": "bytes", "any": "Any"}
        if kind in simple:
            return simple[kind]
        if kind == "id":
            return self.id_type(spec["tableName"])
        if kind == "literal":
            value = json_to_convex(spec["value"])
            if isinstance(value, float):
                return "float"  # a float is not a valid Literal parameter
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

    # ------------------------------------------------------------ annotations
    def handler_returns(self, handler: Any, hint: str) -> str:
        """The type of what ``handler`` returns, from its return annotation (Convex infers
        a function's return type from its handler when ``returns`` is absent); ``Any``
        when it has none or it cannot be resolved."""
        try:
            hints = get_type_hints(handler, include_extras=True)
        except Exception:  # an annotation naming something only a type checker sees
            return "Any"
        if "return" not in hints:
            return "Any"
        try:
            return self.annotation(hints["return"], hint)
        except Exception:
            return "Any"

    def annotation(self, tp: Any, hint: str) -> str:
        if tp is None or tp is type(None):
            return "None"
        if tp is Any or tp is object:
            return "Any"
        generated = self._generated_name(tp)
        if generated is not None:
            return generated
        origin, args = get_origin(tp), get_args(tp)
        if origin is typing.Annotated:
            marker = next((a for a in args[1:] if isinstance(a, IdTable)), None)
            return self.id_type(marker.table) if marker is not None else self.annotation(args[0], hint)
        if origin in (Union, types.UnionType):
            return " | ".join(dict.fromkeys(self.annotation(a, hint) for a in args))
        if origin is list:
            return f"list[{self.annotation(args[0], hint + 'Item') if args else 'Any'}]"
        if origin is dict:
            if not args:
                return "dict[str, Any]"
            key, value = self.annotation(args[0], hint + "Key"), self.annotation(args[1], hint + "Value")
            return f"dict[{key}, {value}]"
        if origin is Literal:
            return f"Literal[{', '.join(repr(a) for a in args)}]"
        if is_typeddict(tp):
            fields = get_type_hints(tp, include_extras=True)
            required = getattr(tp, "__required_keys__", frozenset(fields))
            items = []
            for field, field_tp in fields.items():
                t = self.annotation(_strip_required(field_tp), hint + pascal(field))
                items.append(f"{field!r}: {t if field in required else f'NotRequired[{t}]'}")
            name = self.fresh(hint)
            self.definitions.append(f'{name} = TypedDict("{name}", {{{", ".join(items)}}})')
            return name
        return self.expr(validator_from_annotation(tp).to_json(), hint)

    def _generated_name(self, tp: Any) -> str | None:
        """A type from the functions' own ``_generated/data_model.py`` (``MessagesDoc``,
        ``MessagesId``): the same name in the files generated now."""
        module = getattr(tp, "__module__", "") or ""
        name = getattr(tp, "__name__", None)
        if not module.endswith(GENERATED_MODEL) or not isinstance(name, str):
            return None
        return self.model + name if name in self.names.taken else None


def _strip_required(tp: Any) -> Any:
    origin = get_origin(tp)
    if origin in (typing.Required, typing.NotRequired):
        return get_args(tp)[0]
    return tp
