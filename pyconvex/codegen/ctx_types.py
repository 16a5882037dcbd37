"""``_generated/server.py``: the ``ctx`` interfaces of ``pyconvex.functions.ctx`` typed
for one schema.

``ctx.db.get(id)``/``get("messages", id)`` return ``MessagesDoc | None``,
``ctx.db.query("messages")`` is a ``QueryBuilder[MessagesDoc]`` (``collect()`` is a
``list[MessagesDoc]``), ``insert`` checks the document against the table's
``TypedDict`` and returns a ``MessagesId``, ``ctx.run_query(api.x.y, {...})`` checks
its arguments and has the referenced function's return type, ``ctx.storage`` and
``ctx.scheduler`` take and give ``StorageId``/``ScheduledFunctionsId``. With
``define_schema(..., strict_table_name_types=False)`` any other table name is accepted
too, with untyped documents (as Convex's ``strictTableNameTypes: false``).
"""

from __future__ import annotations

from collections.abc import Callable

from pyconvex.codegen.types import SYSTEM_TABLES, Names

I1 = "    "

SYSTEM_DOCS = {
    "_storage": {"sha256": "str", "size": "float", "contentType": "NotRequired[str]"},
    "_scheduled_functions": {
        "name": "str", "args": "list[Any]", "scheduledTime": "float",
        "completedTime": "NotRequired[float]", "state": "dict[str, Any]",
    },
}

HEAD = """from collections.abc import Mapping
from typing import Any, Literal, ParamSpec, Protocol, TypeVar, overload

from pyconvex.functions import RegisteredFunction
from pyconvex.functions.ctx import Auth, PaginationResult, QueryBuilder
from pyconvex.protocol.references import FunctionReference

from . import data_model as _dm

_P = ParamSpec("_P")
_R = TypeVar("_R")
"""


def _methods(out: list[str], signatures: list[str]) -> None:
    """One method: overloaded when it has several signatures (a Protocol needs none
    implemented)."""
    for sig in signatures:
        if len(signatures) > 1:
            out.append(I1 + "@overload")
        out.append(I1 + sig + ": ...")


def _call(name: str) -> list[str]:
    return [
        f"async def {name}(self, ref: FunctionReference[_P, _R], /, *args: _P.args, "
        "**kwargs: _P.kwargs) -> _R",
        f"async def {name}(self, ref: str | RegisteredFunction, args: Mapping[str, Any] | None "
        f"= None, /) -> Any",
    ]


def _schedule(name: str, when: str) -> list[str]:
    return [
        f"async def {name}(self, {when}: float, ref: FunctionReference[_P, Any], /, *args: "
        "_P.args, **kwargs: _P.kwargs) -> _dm.ScheduledFunctionsId",
        f"async def {name}(self, {when}: float, ref: str | RegisteredFunction, args: "
        "Mapping[str, Any] | None = None, /) -> _dm.ScheduledFunctionsId",
    ]


def server_file(
    header: str, tables: list[str], names: Names, strict: bool, typed: Callable[[str], bool]
) -> str:
    """``typed(table)``: whether the table has a document validator (else its documents
    are plain mappings)."""
    dm = "_dm."
    loose = not strict or not tables
    out = [header, HEAD]

    def doc(t: str) -> str:
        return dm + names.doc(t)

    def id_(t: str) -> str:
        return dm + names.id(t)

    # ---------------------------------------------------------------- system tables
    out.append("class SystemReader(Protocol):")
    _methods(out, [f"async def get(self, doc_id: {id_(t)}, /) -> {doc(t)} | None" for t in SYSTEM_TABLES]
             + [f"async def get(self, table: Literal[{t!r}], doc_id: {id_(t)}, /) -> {doc(t)} | None"
                for t in SYSTEM_TABLES])
    _methods(out, [f"def query(self, table: Literal[{t!r}]) -> QueryBuilder[{doc(t)}]"
                   for t in SYSTEM_TABLES])
    _methods(out, [f"def normalize_id(self, table: Literal[{t!r}], id_string: str) -> {id_(t)} | None"
                   for t in SYSTEM_TABLES])
    out.append("")

    # ----------------------------------------------------------------- db reader
    out.append("class DatabaseReader(Protocol):")
    out.append(I1 + "@property")
    out.append(I1 + "def system(self) -> SystemReader: ...")
    gets = [f"async def get(self, doc_id: {id_(t)}, /) -> {doc(t)} | None" for t in tables]
    gets += [f"async def get(self, table: Literal[{t!r}], doc_id: {id_(t)}, /) -> {doc(t)} | None"
             for t in tables]
    queries = [f"def query(self, table: Literal[{t!r}]) -> QueryBuilder[{doc(t)}]" for t in tables]
    normalize = [f"def normalize_id(self, table: Literal[{t!r}], id_string: str) -> {id_(t)} | None"
                 for t in tables]
    if loose:
        gets += ["async def get(self, doc_id: str, /) -> Any",
                 "async def get(self, table: str, doc_id: str, /) -> Any"]
        queries.append("def query(self, table: str) -> QueryBuilder[Any]")
        normalize.append("def normalize_id(self, table: str, id_string: str) -> str | None")
    _methods(out, gets)
    _methods(out, queries)
    _methods(out, normalize)
    out.append(I1 + "async def vector_search(self, table: _dm.TableName, index: str, *, vector: "
               "list[float], limit: int = 10, filter: Any = None) -> list[dict[str, Any]]: ...")
    out.append("")

    # ----------------------------------------------------------------- db writer
    out.append("class DatabaseWriter(DatabaseReader, Protocol):")

    def value(t: str) -> str:
        return dm + names.base(t) if typed(t) else "Mapping[str, Any]"

    inserts = [f"async def insert(self, table: Literal[{t!r}], document: {value(t)}) -> {id_(t)}"
               for t in tables]
    patches = [f"async def patch(self, doc_id: {id_(t)}, fields: Mapping[str, Any], /) -> None"
               for t in tables]
    patches += [f"async def patch(self, table: Literal[{t!r}], doc_id: {id_(t)}, fields: "
                "Mapping[str, Any], /) -> None" for t in tables]
    replaces = [f"async def replace(self, doc_id: {id_(t)}, document: {value(t)}, /) -> None"
                for t in tables]
    replaces += [f"async def replace(self, table: Literal[{t!r}], doc_id: {id_(t)}, document: "
                 f"{value(t)}, /) -> None" for t in tables]
    deletes = [f"async def delete(self, doc_id: {id_(t)}, /) -> None" for t in tables]
    deletes += [f"async def delete(self, table: Literal[{t!r}], doc_id: {id_(t)}, /) -> None"
                for t in tables]
    if loose:
        inserts.append("async def insert(self, table: str, document: Mapping[str, Any]) -> str")
        patches += ["async def patch(self, doc_id: str, fields: Mapping[str, Any], /) -> None",
                    "async def patch(self, table: str, doc_id: str, fields: Mapping[str, Any], /) -> None"]
        replaces += ["async def replace(self, doc_id: str, document: Mapping[str, Any], /) -> None",
                     "async def replace(self, table: str, doc_id: str, document: Mapping[str, Any], "
                     "/) -> None"]
        deletes += ["async def delete(self, doc_id: str, /) -> None",
                    "async def delete(self, table: str, doc_id: str, /) -> None"]
    for group in (inserts, patches, replaces, deletes):
        _methods(out, group)
    out.append("")

    # ------------------------------------------------------- storage, scheduler
    sid = dm + names.id("_storage")
    out += [
        "class QueryStorage(Protocol):",
        I1 + f"async def get_url(self, storage_id: {sid}, *, expires_in: float | None = None) "
        "-> str | None: ...",
        I1 + f"async def get_metadata(self, storage_id: {sid}) -> dict[str, Any] | None: ...",
        "",
        "class MutationStorage(QueryStorage, Protocol):",
        I1 + "async def generate_upload_url(self) -> str: ...",
        I1 + f"async def delete(self, storage_id: {sid}) -> None: ...",
        "",
        "class ActionStorage(MutationStorage, Protocol):",
        I1 + f"async def store(self, data: bytes, content_type: str | None = None) -> {sid}: ...",
        I1 + f"async def get(self, storage_id: {sid}) -> bytes | None: ...",
        "",
        "class Meta(Protocol):",
        I1 + "async def get_request_metadata(self) -> dict[str, Any]: ...",
        "",
        "class Scheduler(Protocol):",
    ]
    _methods(out, _schedule("run_after", "delay_ms"))
    _methods(out, _schedule("run_at", "timestamp_ms"))
    out += [I1 + f"async def cancel(self, job_id: {dm + names.id('_scheduled_functions')}) -> None: ...", ""]

    # ------------------------------------------------------------------- ctx
    out += ["class QueryCtx(Protocol):", I1 + "db: DatabaseReader", I1 + "auth: Auth",
            I1 + "storage: QueryStorage", I1 + "def now(self) -> float: ..."]
    _methods(out, _call("run_query"))
    out += ["", "class MutationCtx(Protocol):", I1 + "db: DatabaseWriter", I1 + "auth: Auth",
            I1 + "scheduler: Scheduler", I1 + "storage: MutationStorage", I1 + "meta: Meta",
            I1 + "def now(self) -> float: ..."]
    _methods(out, _call("run_query"))
    _methods(out, _call("run_mutation"))
    out += ["", "class ActionCtx(Protocol):", I1 + "auth: Auth", I1 + "scheduler: Scheduler",
            I1 + "storage: ActionStorage", I1 + "meta: Meta", I1 + "def now(self) -> float: ..."]
    _methods(out, _call("run_query"))
    _methods(out, _call("run_mutation"))
    _methods(out, _call("run_action"))
    out.append(I1 + "async def vector_search(self, table: _dm.TableName, index: str, *, vector: "
               "list[float], limit: int = 10, filter: Any = None) -> list[dict[str, Any]]: ...")
    out += ["", "__all__ = ['ActionCtx', 'ActionStorage', 'DatabaseReader', 'DatabaseWriter', "
            "'Meta', 'MutationCtx', 'MutationStorage', 'PaginationResult', 'QueryCtx', 'QueryStorage', "
            "'Scheduler', 'SystemReader']", ""]
    return "\n".join(out)
