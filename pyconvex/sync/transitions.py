"""A client's next Transition: one timestamp at which every query of its set has a result.

Results are shared between clients but timestamps are not: each client moves on as soon
as *its own* queries are ready, so a slow query holds up only the clients subscribed to
it (and their mutations' confirmations), never everyone.

Each query of a client can draw on up to three results, each holding over a range of
timestamps (``Outcome.covers``): the one last sent to this client, its subscription's
current one, and one a catch-up run produced for this client. :func:`plan` picks the
newest timestamp ``T``, never below the client's current one, that every query's best
result still reaches, then a result covering ``T`` for each query. A query with none
(its fast re-run already moved past a slow neighbour's ``T``) is *missing*: the session
gets its result at ``T`` from the manager (a catch-up run, shared by everyone who needs
that timestamp) and sends the transition then. So a client never sees a mix of before
and after a commit, its timestamps only grow, and it is never starved by a query that
re-runs faster than another one of its set.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pyconvex.protocol import (
    QueryFailed,
    QueryRemoved,
    StateModification,
    StateVersion,
    Transition,
)
from pyconvex.sync.subscriptions import Outcome, Subscription


@dataclass
class ClientQuery:
    """One query of a client's set."""

    path: str
    args: dict[str, Any]
    sub: Subscription
    journal: str | None = None
    sent: Outcome | None = None
    """The result this client was last sent (None: none yet under this identity). It
    holds at the client's current timestamp; the client has its value."""


@dataclass
class Plan:
    ts: int
    chosen: dict[int, Outcome] = field(default_factory=dict)
    """A result covering ``ts`` per query id."""
    missing: list[tuple[int, Subscription]] = field(default_factory=list)
    """Queries with no result at ``ts`` yet."""


def _candidates(query: ClientQuery, held: dict[Subscription, Outcome]) -> list[Outcome]:
    found = []
    for outcome in (query.sub.outcome, held.get(query.sub), query.sent):
        if outcome is not None:
            found.append(outcome)
    return found


def plan(
    queries: dict[int, ClientQuery],
    at_least: int,
    newest: int,
    held: dict[Subscription, Outcome],
) -> Plan:
    """The newest consistent timestamp at or after ``at_least`` and a result for each
    query there (``newest``: the manager's ``processed_ts``; ``held``: this client's
    catch-up results)."""
    quick = _all_current(queries, at_least, newest)
    if quick is not None:
        return quick
    target = newest
    for query in queries.values():
        reach = max(
            (outcome.valid_through(newest) for outcome in _candidates(query, held)),
            default=at_least,
        )
        if reach < target:
            target = reach
    result = Plan(max(target, at_least))
    for qid, query in queries.items():
        for outcome in _candidates(query, held):  # the newest result first
            if outcome.covers(result.ts, newest):
                result.chosen[qid] = outcome
                break
        else:
            result.missing.append((qid, query.sub))
    return result


def _all_current(queries: dict[int, ClientQuery], at_least: int, newest: int) -> Plan | None:
    """The common case, in one pass: every query's current result still holds at the
    newest commit, so that is where the client goes (what a fan-out pays per client)."""
    chosen = {}
    for qid, query in queries.items():
        outcome = query.sub.outcome
        if outcome is None or outcome.stale_at is not None:
            return None
        chosen[qid] = outcome
    return Plan(max(newest, at_least), chosen)


def modifications(
    queries: dict[int, ClientQuery], chosen: dict[int, Outcome]
) -> list[StateModification]:
    """``QueryUpdated``/``QueryFailed`` for each query whose chosen result differs from
    what its client has."""
    mods: list[StateModification] = []
    for qid, query in queries.items():
        outcome, sent = chosen[qid], query.sent
        if sent is not None and sent.digest == outcome.digest:
            continue
        if outcome.error is not None:
            message, data, has_data = outcome.error
            failed: QueryFailed = {
                "type": "QueryFailed",
                "queryId": qid,
                "errorMessage": message,
                "logLines": outcome.log_lines,
                "journal": outcome.journal,
            }
            if has_data:
                failed["errorData"] = data
            mods.append(failed)
        else:
            mods.append({
                "type": "QueryUpdated",
                "queryId": qid,
                "value": outcome.fragment,
                "encoded": True,
                "logLines": outcome.log_lines,
                "journal": outcome.journal,
            })
    return mods


def transition_message(
    queries: dict[int, ClientQuery],
    chosen: dict[int, Outcome],
    removed: list[int],
    current: StateVersion,
    end: StateVersion,
    clock_skew: int | None,
    *,
    send_bare: bool,
    force: bool,
) -> Transition | None:
    """The Transition from ``current`` to ``end`` with the ``chosen`` results, or None
    when it would change nothing for the client: no result differs and the version
    stays (unless ``force``), or only the timestamp moves (unless ``send_bare``)."""
    mods = modifications(queries, chosen) if queries else []
    if removed:
        mods.extend(QueryRemoved(type="QueryRemoved", queryId=qid) for qid in removed)
    if not mods and not force and (end == current or not send_bare):
        return None
    return transition_of(current, end, mods, clock_skew)


def transition_of(
    current: StateVersion, end: StateVersion, mods: list[StateModification],
    clock_skew: int | None,
) -> Transition:
    """The Transition message from ``current`` to ``end``. Its start version is
    ``current`` itself, not a copy: a session replaces its version, never changes it
    in place (sessions of one fan-out pass share their end version)."""
    transition: Transition = {
        "type": "Transition",
        "startVersion": current,
        "endVersion": end,
        "modifications": mods,
        "serverTs": time.time_ns(),
    }
    if clock_skew is not None:
        transition["clientClockSkew"] = clock_skew
    return transition


def pass_key(
    queries: dict[int, ClientQuery],
    chosen: dict[int, Outcome],
    removed: list[int],
    current: StateVersion,
    end: StateVersion,
    clock_skew: int | None,
) -> tuple[Any, ...] | None:
    """A fan-out Transition's identity, found without building it (``fanout.py``): the
    versions, the clock skew, the removed queries and, per query whose chosen result
    differs from what the client has, its id, kind and digest. Two equal keys mean
    byte-equal frames but for ``serverTs``. None: the Transition would carry no
    modification (a pass sends no bare timestamp move)."""
    key: list[Any] = [
        current["querySet"], current["identity"], current["ts"],
        end["querySet"], end["identity"], end["ts"], clock_skew, tuple(removed),
    ]
    for qid, query in queries.items():
        outcome, sent = chosen[qid], query.sent
        if sent is not None and sent.digest == outcome.digest:
            continue
        key += (qid, outcome.error is None, outcome.digest)
    return tuple(key) if len(key) > 8 or removed else None
