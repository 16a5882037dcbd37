"""Convex's sync-protocol messages as TypedDicts (docs/protocol.md §3–§4), one per message,
each discriminated by ``type: Literal[...]`` as in convex-js ``protocol.ts``.

These are the **decoded** forms, which both directions share:

- ``args`` is the Python dict (the wire's one-element Convex-JSON array is the codec's
  business), values are Python values, timestamps are ``int`` (the wire's base64 u64).
- Optional wire fields that the parsers fill in are present with ``None`` when absent
  (``Connect.maxObservedTimestamp``, ``AddQuery.journal``, ``Authenticate.value``, ...),
  so ``parse_*(encode_*(m)) == m`` for every message built this way.
- ``errorData`` is ``NotRequired`` and *absence* is meaningful: it is present only for a
  ``ConvexError`` (whose data may itself be ``None``). ``clientClockSkew`` and ``serverTs``
  are absent or integers, never ``None`` on the wire.

``codec.py`` turns these into the exact JSON and back.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

# ------------------------------------------------------------------ client -> server


class Connect(TypedDict):
    """First message on every socket. JS keeps ``sessionId`` for the client object's life."""

    type: Literal["Connect"]
    sessionId: str
    connectionCount: int
    lastCloseReason: str | None
    maxObservedTimestamp: int | None
    clientTs: int | float | None


class AddQuery(TypedDict):
    type: Literal["Add"]
    queryId: int
    udfPath: str
    args: dict[str, Any]
    journal: str | None


class RemoveQuery(TypedDict):
    type: Literal["Remove"]
    queryId: int


QuerySetModification = AddQuery | RemoveQuery


class ModifyQuerySet(TypedDict):
    """``newVersion == baseVersion + 1``; ``baseVersion`` is 0 on a fresh socket."""

    type: Literal["ModifyQuerySet"]
    baseVersion: int
    newVersion: int
    modifications: list[QuerySetModification]


class Mutation(TypedDict):
    type: Literal["Mutation"]
    requestId: int
    udfPath: str
    args: dict[str, Any]


class Action(TypedDict):
    type: Literal["Action"]
    requestId: int
    udfPath: str
    args: dict[str, Any]


class Authenticate(TypedDict):
    """``baseVersion`` counts the Authenticate messages already sent on this socket.
    ``value`` is ``None`` only for ``tokenType: "None"``; ``impersonating`` (Rust spells it
    ``acting_as``) is an admin-only acting-as identity."""

    type: Literal["Authenticate"]
    baseVersion: int
    tokenType: Literal["User", "Admin", "None"]
    value: str | None
    impersonating: Any


class Event(TypedDict):
    """Client telemetry; servers accept and ignore it."""

    type: Literal["Event"]
    eventType: str
    event: Any


ClientMessage = Connect | ModifyQuerySet | Mutation | Action | Authenticate | Event

# ------------------------------------------------------------------ server -> client


class StateVersion(TypedDict):
    """A Transition's start or end: query-set version, identity version, snapshot ts."""

    querySet: int
    identity: int
    ts: int


class QueryUpdated(TypedDict):
    """``encoded`` is server-side only and never on the wire: it says ``value`` already
    holds Convex JSON (one encoding shared by every subscriber of a query)."""

    type: Literal["QueryUpdated"]
    queryId: int
    value: Any
    logLines: list[str]
    journal: str | None
    encoded: NotRequired[bool]


class QueryFailed(TypedDict):
    type: Literal["QueryFailed"]
    queryId: int
    errorMessage: str
    logLines: list[str]
    journal: str | None
    errorData: NotRequired[Any]


class QueryRemoved(TypedDict):
    type: Literal["QueryRemoved"]
    queryId: int


StateModification = QueryUpdated | QueryFailed | QueryRemoved


class Transition(TypedDict):
    """The only message carrying query results. ``startVersion`` must equal the previous
    Transition's ``endVersion`` on this socket (``{0, 0, 0}`` for the first)."""

    type: Literal["Transition"]
    startVersion: StateVersion
    endVersion: StateVersion
    modifications: list[StateModification]
    clientClockSkew: NotRequired[int]
    serverTs: NotRequired[int]


class MutationResponse(TypedDict):
    """On success ``result`` is the value and ``ts`` the commit timestamp (required on
    the wire); on failure ``result`` is the error message and ``ts`` is ``None``."""

    type: Literal["MutationResponse"]
    requestId: int
    success: bool
    result: Any
    ts: int | None
    logLines: list[str]
    errorData: NotRequired[Any]
    result_json: NotRequired[bytes]
    """Not a wire field: ``result``'s Convex JSON, when the server has it encoded
    already (the mutation's record holds the same bytes); the frame writes it as is."""


class ActionResponse(TypedDict):
    type: Literal["ActionResponse"]
    requestId: int
    success: bool
    result: Any
    logLines: list[str]
    errorData: NotRequired[Any]


class AuthErrorMessage(TypedDict):
    """Wire type ``AuthError`` (named so as not to shadow ``pyconvex.errors.AuthError``).
    ``baseVersion`` is the failed Authenticate's; ``None`` only from servers omitting it."""

    type: Literal["AuthError"]
    error: str
    baseVersion: int | None
    authUpdateAttempted: bool


class FatalError(TypedDict):
    type: Literal["FatalError"]
    error: str


class Ping(TypedDict):
    type: Literal["Ping"]


ServerMessage = (
    Transition | MutationResponse | ActionResponse | AuthErrorMessage | FatalError | Ping
)
