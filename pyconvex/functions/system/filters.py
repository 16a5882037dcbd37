"""The data grid's query: filters (field, operator, value) planned onto an index.

Used by ``_system/frontend/paginatedTableDocuments`` (the live grid, over the sync
protocol) and the dashboard's HTTP ``documents`` endpoint.

A user filtering 100,000 documents should not wait for a full scan when an index could
answer, and should be told when none can. :func:`plan` picks the index whose fields take
the most clauses (equalities on a prefix of its fields, then at most one lower and one
upper bound on the next field, as ``with_index`` ranges allow); the other clauses are
checked on each document of that range. The grid pages with the query engine's own
``paginate``, so a page reads only what it shows (or, when filters run on documents, at
most ``MAX_ROWS_PER_PAGE`` rows, and the grid asks for the next page).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import orjson

from pyconvex.database import IndexInfo, Query, TableInfo, Transaction
from pyconvex.errors import BadRequestError
from pyconvex.values import convex_to_json, json_to_convex

OPERATORS = ("eq", "neq", "lt", "lte", "gt", "gte")
RANGE_OPERATORS = ("lt", "lte", "gt", "gte")
MAX_ROWS_PER_PAGE = 20_000
MAX_CLAUSES = 16


@dataclass(frozen=True, slots=True)
class Clause:
    field: str
    op: str
    value: Any

    def describe(self) -> str:
        symbol = {"eq": "==", "neq": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[self.op]
        return f"{self.field} {symbol} {orjson.dumps(convex_to_json(self.value)).decode()}"


@dataclass(slots=True)
class Plan:
    index: IndexInfo
    eq: list[Clause] = field(default_factory=list)
    lower: Clause | None = None
    upper: Clause | None = None
    rest: list[Clause] = field(default_factory=list)

    @property
    def used(self) -> int:
        return len(self.eq) + (self.lower is not None) + (self.upper is not None)

    def explain(self, filtered: bool) -> dict[str, Any]:
        """What the grid shows above the rows: which index, and what it could not do."""
        on_index = [c.describe() for c in self.eq] + [
            c.describe() for c in (self.lower, self.upper) if c is not None
        ]
        rest = [c.describe() for c in self.rest]
        if not filtered:
            message = f"Ordered by index {self.index.name} ({', '.join(self.index.fields)})."
        elif not on_index:
            fields = ", ".join(sorted({c.field for c in self.rest}))
            message = (f"No index fits the filter on {fields}: every document is checked "
                       f"(scanning {self.index.name}). Add an index on {fields} to the "
                       "schema to make this fast.")
        elif rest:
            message = (f"Index {self.index.name} narrows the range ({'; '.join(on_index)}); "
                       f"{'; '.join(rest)} is checked on each document in it.")
        else:
            message = f"Index {self.index.name} answers the whole filter ({'; '.join(on_index)})."
        return {"index": self.index.name, "fields": list(self.index.fields),
                "onIndex": on_index, "checked": rest, "usesIndex": bool(on_index),
                "message": message}


def parse_filters(raw: Any) -> list[Clause]:
    """``[{"field": "n", "op": "gt", "value": <Convex JSON>}, ...]``; bad input names the
    clause that is wrong."""
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_CLAUSES:
        raise BadRequestError(f"filters must be a list of at most {MAX_CLAUSES} clauses.",
                              short_msg="BadFilter")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("field"), str) or not item["field"]:
            raise BadRequestError(f"filter {i + 1}: needs a field name.", short_msg="BadFilter")
        op = item.get("op")
        if op not in OPERATORS:
            raise BadRequestError(f"filter {i + 1} ({item['field']}): operator must be one of "
                                  f"{', '.join(OPERATORS)}, got {op!r}.", short_msg="BadFilter")
        if "value" not in item:
            raise BadRequestError(f"filter {i + 1} ({item['field']}): needs a value.",
                                  short_msg="BadFilter")
        out.append(Clause(item["field"], op, json_to_convex(item["value"], item["field"])))
    return out


def parse_filter_expression(encoded: str | None) -> tuple[list[Clause], str | None, str | None]:
    """Convex's dashboard filter argument: base64 of the JSON ``{"clauses": [...],
    "order"?: "asc"|"desc", "index"?: {"name": ...}}``. Returns the clauses (those
    disabled or without a field left out, as Convex does), the order and the index name."""
    if not encoded:
        return [], None, None
    try:
        expression = orjson.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        raise BadRequestError("filters must be base64 of a JSON filter expression.",
                              short_msg="BadFilter") from None
    if not isinstance(expression, dict) or not isinstance(expression.get("clauses", []), list):
        raise BadRequestError('filters: expected {"clauses": [...]}.', short_msg="BadFilter")
    order = expression.get("order")
    if order not in (None, "asc", "desc"):
        raise BadRequestError(f"filters: order must be asc or desc, got {order!r}.",
                              short_msg="BadFilter")
    index = expression.get("index")
    name = index.get("name") if isinstance(index, dict) else None
    if index is not None and not isinstance(name, str):
        raise BadRequestError('filters: index must be {"name": <index name>}.', short_msg="BadFilter")
    clauses = [c for c in expression.get("clauses", [])
               if not isinstance(c, dict) or (c.get("enabled", True) is not False
                                              and c.get("field") is not None)]
    return parse_filters(clauses), order, name


def _fit(index: IndexInfo, clauses: list[Clause]) -> Plan:
    plan = Plan(index)
    left = list(clauses)
    for name in index.fields:
        eq = next((c for c in left if c.field == name and c.op == "eq"), None)
        if eq is not None:
            plan.eq.append(eq)
            left.remove(eq)
            continue
        for c in [c for c in left if c.field == name and c.op in RANGE_OPERATORS]:
            if c.op in ("gt", "gte") and plan.lower is None:
                plan.lower = c
                left.remove(c)
            elif c.op in ("lt", "lte") and plan.upper is None:
                plan.upper = c
                left.remove(c)
        break
    plan.rest = left
    return plan


def plan(table: TableInfo, clauses: list[Clause], index_name: str | None) -> Plan:
    """The index to scan: the one asked for (the grid's sort), else the one that takes
    the most clauses (``by_creation_time`` when none takes any)."""
    if index_name:
        index = table.indexes.get(index_name)
        if index is None:
            raise BadRequestError(f"Table {table.name!r} has no index {index_name!r}.",
                                  short_msg="IndexNotFound")
        if not index.queryable:
            raise BadRequestError(f"Index {table.name}.{index_name} is {index.state}, not "
                                  "yet usable for queries.", short_msg="IndexNotReady")
        return _fit(index, clauses)
    best = _fit(table.indexes["by_creation_time"], clauses)
    for index in table.indexes.values():
        if index.queryable:
            candidate = _fit(index, clauses)
            if candidate.used > best.used:
                best = candidate
    return best


def build_query(txn: Transaction, table: str, p: Plan, order: str) -> Query:
    def index_range(q: Any) -> Any:
        for c in p.eq:
            q = q.eq(c.field, c.value)
        for bound in (p.lower, p.upper):
            if bound is not None:
                q = getattr(q, bound.op)(bound.field, bound.value)
        return q

    query = Query(txn, table).with_index(p.index.name, index_range if p.used else None)
    query = query.order(order)
    if p.rest:
        rest = list(p.rest)
        query = query.filter(
            lambda q: q.and_(*[getattr(q, c.op)(q.field(c.field), c.value) for c in rest]))
    return query
