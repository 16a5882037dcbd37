"""Names vulture (``make lint``) reports as unused that are used, from outside its view.

Each entry says who uses it. Real dead code is deleted, never listed here. The file is
only read by vulture (``_`` stands for any object)."""

# ruff: noqa
_ = object()

# The public API: called by users' functions, not by pyconvex itself.
_.neq  # q.neq in .filter(...) (functions/ctx.py documents the filter builder)
_.not_  # q.not_
_.div  # q.div
_.hourly  # crons.hourly(...)
_.weekly  # crons.weekly(...)
_.monthly  # crons.monthly(...)
_.get_metadata  # ctx.storage.get_metadata(id)
_.utcnow  # datetime.utcnow() inside a query or mutation: the fixed start time
_.typed_reference  # called by generated convex/_generated/api.py
_.handler_returns  # codegen: the declared return type of a handler
_.get_user_id  # pyconvex.auth: auth.get_user_id(ctx)
_.get_session_id  # pyconvex.auth: auth.get_session_id(ctx)
_.modify  # row-level security rules: {"table": {"read": ..., "modify": ...}}

# Wire and result shapes: TypedDict keys, read by clients as JSON.
_.isDone
_.continueCursor
_.splitCursor
_.pageStatus
# protocol/messages.py: every key of every sync-protocol message
_.sessionId
_.connectionCount
_.lastCloseReason
_.maxObservedTimestamp
_.clientTs
_.queryId
_.udfPath
_.baseVersion
_.newVersion
_.modifications
_.requestId
_.tokenType
_.eventType
_.querySet
_.logLines
_.errorMessage
_.errorData
_.startVersion
_.endVersion
_.clientClockSkew
_.serverTs
_.authUpdateAttempted
_.journal
_.identity
_.impersonating
_.componentPath
_.transitionId
_.partNumber
_.totalParts
_.chunk

# Python's and libraries' protocols: called by the interpreter, asyncio, uvicorn, psycopg.
_.__getattr__  # module-level lazy exports (PEP 562)
_.__dir__
_.__class_getitem__  # Id["table"]
_.__instancecheck__  # the determinism guard's stand-in classes
_.__subclasscheck__
_.get_code  # importlib loader protocol
_.__package__  # module attribute set for the import system
_.data_received  # asyncio.Protocol
_.connection_lost
_.writelines  # asyncio.Transport
_.capture_signals  # uvicorn.Server hook, overridden
_.should_exit  # read by uvicorn.Server's main loop
_.response_complete  # read by uvicorn's RequestResponseCycle and protocol (server/direct_calls.py)
_.on_response_complete  # uvicorn's cycle calls it (server/corked.py overrides it whole)
_.total_requests  # uvicorn's ServerState counter, kept by server/corked.py as uvicorn kept it
_.nonblocking  # psycopg's pgconn switch, read by libpq
_.raw_headers  # starlette Request internals set for an action's request
_.exc_type  # __exit__/__aexit__ signatures
_.exc  # __exit__/__aexit__ signatures
_.tb
_.signum  # signal handler signature

# Diagnostic counters: no code reads them; they are there to inspect a running
# deployment (a debugger, `python -X importtime`, bench/ profiling sessions).
_.executions  # FunctionRunner
_.executed  # scheduler executor
_.head_conflicts  # committer, several processes on PostgreSQL
# server/ws_protocol.py sets, as uvicorn's WebSocketsSansIOProtocol.__init__ does, what
# uvicorn's own methods read; and reads its per-class cache through cls.__dict__.
_.handshake_initiated
_.initial_response
_.close_timer
_.ping_timer
_.pong_timer
_.ping_sent_at
_.last_ping_rtt
_._last_bound

# The SQLite writer child's operations: called by name over its socket (sqlite_writer.py).
_.index_session_requests  # sqlite.py: WriterProcess.call("index_session_requests", ...)
