"""Convex's sync-protocol messages as TypedDicts (protocol.md §3–§4).

Client messages are shown as parsed: ``args`` decoded to a dict, timestamps to ints.
Server messages are shown as built, before encoding: values are Python values and
timestamps ints; ``codec.encode_server_message`` produces the exact wire JSON.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict


class Connect(TypedDict):
    type: Literal["Connect"]
    sessionId: str
    connectionCount: int
    lastCloseReason: str | None
    maxObservedTimestamp: NotRequired[int | None]
    clientTs: NotRequired[int | None]


class AddQuery(TypedDict):
    type: Literal["Add"]
    queryId: int
    udfPath: str
    args: dict[str, Any]
    journal: NotRequired[str | None]


class RemoveQuery(TypedDict):
    type: Literal["Remove"]
    queryId: int


class ModifyQuerySet(TypedDict):
    type: Literal["ModifyQuerySet"]
    baseVersion: int
    newVersion: int
    modifications: list[AddQuery | RemoveQuery]


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
    type: Literal["Authenticate"]
    baseVersion: int
    tokenType: Literal["User", "Admin", "None"]
    value: NotRequired[str | None]
    impersonating: NotRequired[Any]


class Event(TypedDict):
    type: Literal["Event"]
    eventType: str
    event: Any


ClientMessage = Connect | ModifyQuerySet | Mutation | Action | Authenticate | Event


class StateVersion(TypedDict):
    querySet: int
    identity: int
    ts: int


class QueryUpdated(TypedDict):
    type: Literal["QueryUpdated"]
    queryId: int
    value: Any
    logLines: list[str]
    journal: str | None


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
    type: Literal["Transition"]
    startVersion: StateVersion
    endVersion: StateVersion
    modifications: list[StateModification]
    clientClockSkew: NotRequired[int]
    serverTs: NotRequired[int]


class MutationResponse(TypedDict):
    type: Literal["MutationResponse"]
    requestId: int
    success: bool
    result: Any
    ts: NotRequired[int | None]
    logLines: list[str]
    errorData: NotRequired[Any]


class ActionResponse(TypedDict):
    type: Literal["ActionResponse"]
    requestId: int
    success: bool
    result: Any
    logLines: list[str]
    errorData: NotRequired[Any]


class AuthErrorMessage(TypedDict):
    type: Literal["AuthError"]
    error: str
    baseVersion: int
    authUpdateAttempted: bool


class FatalError(TypedDict):
    type: Literal["FatalError"]
    error: str


class Ping(TypedDict):
    type: Literal["Ping"]


ServerMessage = (
    Transition | MutationResponse | ActionResponse | AuthErrorMessage | FatalError | Ping
)
