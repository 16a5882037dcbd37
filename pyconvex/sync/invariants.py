"""What must hold of a sync session between steps (``SyncSession.check_invariants``;
tests call it; the state rules are in the lifecycle comment of ``sync/session.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyconvex.sync.session import SyncSession


class SessionInvariantError(AssertionError):
    """A sync session broke a rule of its state machine (a bug in pyconvex)."""


def session_problems(session: SyncSession) -> list[str]:
    """Each rule ``session`` breaks, named."""
    problems: list[str] = []
    ts, newest = session.current["ts"], session.manager.processed_ts
    if ts > newest:
        problems.append(f"client at ts {ts}, past the newest commit taken in ({newest})")
    if session.current["querySet"] > session.query_set_version:
        problems.append("client's querySet version is ahead of the session's")
    if session.current["identity"] > session.identity_version:
        problems.append("client's identity version is ahead of the session's")
    if not session.connected and (session.queries or session.query_set_version):
        problems.append("queries before Connect")
    if session._closed and (session.queries or session._tasks):
        problems.append("closed with queries or tasks left")
    in_step = (
        session.current["querySet"] == session.query_set_version
        and session.current["identity"] == session.identity_version
    )
    for qid, query in session.queries.items():
        sub = query.sub
        if session.manager.subscriptions.get(sub.key) is not sub:
            problems.append(f"query {qid}: its subscription is no longer live")
        if sub.watchers.get(session._watcher, 0) < 1:
            problems.append(f"query {qid}: this session does not watch its subscription")
        if query.sent is None:
            if in_step:
                problems.append(f"query {qid}: the client was never sent its result")
        elif not query.sent.covers(ts, newest):
            problems.append(
                f"query {qid}: the result the client has does not hold at its ts {ts}"
            )
    return problems
