"""Secure functions: custom function builders, row-level security, triggers.

>>> from pyconvex.helpers import custom_query, custom_ctx, wrap_database_reader
>>> rls_query = custom_query(query, custom_ctx(
...     lambda ctx: {"db": wrap_database_reader(ctx, ctx.db, rules)}))

What each protects against, with examples: ``docs/security.md``. The rate limiter is
``pyconvex.ratelimit``.

Public names (``__all__``): custom builders ``custom_query``, ``custom_mutation``,
``custom_action``, ``custom_ctx``, ``Customization``, ``CustomInput``, ``CustomBuilder``
(the builder type, to declare a ctx type), ``CustomCtx`` (the ctx handlers get);
row-level security ``wrap_database_reader``, ``wrap_database_writer``, ``Rules``,
``TableRules``, ``Rule``, ``DefaultPolicy``, ``RlsReader``, ``RlsWriter``, ``RlsQuery``;
triggers ``Triggers``, ``Trigger``, ``Change``, ``TriggerWriter``; and
``DatabaseWrapper``/``unwrap_db`` for code that wraps ``ctx.db`` itself.
"""

from __future__ import annotations

from pyconvex.functions.custom import (
    CustomBuilder,
    CustomCtx,
    CustomInput,
    Customization,
    custom_action,
    custom_ctx,
    custom_mutation,
    custom_query,
)
from pyconvex.functions.rls import (
    DefaultPolicy,
    RlsQuery,
    RlsReader,
    RlsWriter,
    Rule,
    Rules,
    TableRules,
    wrap_database_reader,
    wrap_database_writer,
)
from pyconvex.functions.triggers import Change, Trigger, Triggers, TriggerWriter
from pyconvex.functions.wrapped_db import DatabaseWrapper, unwrap_db

__all__ = [
    "Change",
    "CustomBuilder",
    "CustomCtx",
    "CustomInput",
    "Customization",
    "DatabaseWrapper",
    "DefaultPolicy",
    "RlsQuery",
    "RlsReader",
    "RlsWriter",
    "Rule",
    "Rules",
    "TableRules",
    "Trigger",
    "TriggerWriter",
    "Triggers",
    "custom_action",
    "custom_ctx",
    "custom_mutation",
    "custom_query",
    "unwrap_db",
    "wrap_database_reader",
    "wrap_database_writer",
]
