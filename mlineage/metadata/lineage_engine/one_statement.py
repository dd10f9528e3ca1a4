"""A whole lineage walk in one SQL statement (a recursive CTE), for databases where each hop is a round trip.

On PostgreSQL the frontier walk of ``traversal.py`` costs one round trip per
hop and side, so a 40-step chain (80 MLMD hops) is 80 trips to the server.
Here the database walks itself: each row of the recursive CTE is one hop,
carrying that hop's frontier of each kind and every node seen so far as
arrays, so a node is expanded once, at the hop that first reached it, as in
the breadth-first walk (each hop's candidates are checked against the seen
arrays). The same statement then returns each hop's frontiers (arrays), the
walked events (full rows) and, when asked, the nodes' attributions and
associations (arrays) and the snapshot it read them in (``pg_current_snapshot()``, the
statement's own: the change token of the gRPC service's cache, read without a round trip of its
own): one round trip for the whole answer.

The answer is the frontier walk's exactly, for the walks it covers (no ending
nodes, no keep test, no node cap): nodes reached within ``max_hops``, each
with the hop that first reached it, and the events, of the direction's types,
of every node expanded (reached before ``max_hops``). The starting nodes'
query (a filter) can be part of the same statement too (``StartingQuery``). On a one-way walk those
are the edges the frontier walk keeps (to new and to visited nodes); on a
two-way walk every neighbour of an expanded node is one hop nearer or farther
(the graph is bipartite), so they are the edges to new nodes, each once.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlineage.metadata import executor
from mlineage.metadata.kinds import ARTIFACT, EXECUTION, NodeKind
from mlineage.metadata.lineage_engine.reads import EventEdge
from mlineage.metadata.lineage_engine.traversal import Direction, Traversal, step_event_types

#: Dialects that walk in one statement. SQLite has no round trips to save: there the frontier walk
#: measured faster than the same CTE over JSON arrays (0.68 vs 0.80 ms, 10 hops; 1.2 vs 1.6 ms, 80 hops).
DIALECTS = frozenset({"postgresql"})

_HOP, _EVENT, _ATTRIBUTION, _ASSOCIATION, _START, _SNAPSHOT = range(6)
#: The answer's columns after the tag: hop, two id arrays, then an event's columns (NULL where unused).
_NO_EVENT = "NULL, NULL, NULL, NULL, NULL, NULL, NULL"


@dataclass
class StatementWalk(Traversal):
    """A Traversal with what the same statement read for the answer: full event rows (``event_rows``),
    memberships."""

    attributions: list[tuple[int, int]] = field(default_factory=list)  # (context_id, artifact_id), sorted
    associations: list[tuple[int, int]] = field(default_factory=list)  # (context_id, execution_id), sorted
    started: list[int] = field(default_factory=list)  # the starting nodes a StartingQuery selected, in order
    snapshot: str | None = None  # with_snapshot: the statement's snapshot, as pg_current_snapshot()::text


@dataclass(frozen=True)
class StartingQuery:
    """The starting nodes as a query the walk's statement runs first: a SELECT of ids, in order,
    compiled for PostgreSQL with named parameters (``params``; none named ``walk_*``)."""

    kind: NodeKind
    sql: str
    params: dict[str, Any]


def supported(connection: executor.AnyConnection) -> bool:
    # SQL text cannot be rewritten (a read as of a past moment): those walks take the step-by-step path.
    return connection.dialect.name in DIALECTS and executor.active_rewrite() is None


def _types_clause(types: tuple[int, ...] | None) -> str:
    # The event types are the direction's constants, never user text.
    return "" if types is None else f" AND v.type IN ({','.join(str(int(t)) for t in types)})"


def _memberships(with_memberships: bool) -> str:
    # Each kind's memberships as two arrays of one row (one aggregate feeds both in the same order).
    if not with_memberships:
        return ""
    return f"""
UNION ALL
SELECT {_ATTRIBUTION}, NULL, array_agg(m.context_id), array_agg(m.artifact_id), {_NO_EVENT}
  FROM reached r JOIN attributions m ON m.artifact_id = ANY(r.sa)
UNION ALL
SELECT {_ASSOCIATION}, NULL, array_agg(m.context_id), array_agg(m.execution_id), {_NO_EVENT}
  FROM reached r JOIN associations m ON m.execution_id = ANY(r.se)"""


def _answer(from_artifacts: str, from_executions: str, max_hops: str, with_memberships: bool) -> str:
    """The statement's result: each hop's frontiers (one row per hop), the expanded nodes' events,
    memberships. ``reached`` is the last hop's seen arrays (every node of the answer); ``expanded``
    the seen arrays of the last hop that was expanded (below ``max_hops``; none when it is 0)."""
    return f"""
reached AS MATERIALIZED (SELECT hop, sa, se FROM walk ORDER BY hop DESC LIMIT 1),
expanded AS MATERIALIZED (SELECT w.sa, w.se FROM walk w JOIN reached r ON w.hop = least(r.hop, {max_hops} - 1))
SELECT {_HOP}, hop, fa, fe, CAST(NULL AS bigint), CAST(NULL AS bigint), CAST(NULL AS bigint), CAST(NULL AS smallint),
       CAST(NULL AS text), CAST(NULL AS bigint), CAST(NULL AS bytea)
  FROM walk
UNION ALL
SELECT {_EVENT}, NULL, NULL, NULL, v.id, v.artifact_id, v.execution_id, v.type, v.path, v.milliseconds_since_epoch,
       v.system_metadata
  FROM expanded x JOIN events v ON v.artifact_id = ANY(x.sa)
 WHERE true{from_artifacts}
UNION ALL
SELECT {_EVENT}, NULL, NULL, NULL, v.id, v.artifact_id, v.execution_id, v.type, v.path, v.milliseconds_since_epoch,
       v.system_metadata
  FROM expanded x JOIN events v ON v.execution_id = ANY(x.se)
 WHERE true{from_executions}{_memberships(with_memberships)}"""


#: The statement's snapshot as a row of the answer: pg_current_snapshot() is the active snapshot,
#: the one every part of the statement reads with (READ COMMITTED: taken as the statement starts).
_SNAPSHOT_ROW = f"""
UNION ALL
SELECT {_SNAPSHOT}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, CAST(pg_current_snapshot() AS text), NULL, NULL"""


@functools.lru_cache(maxsize=256)
def _statement(
    direction: Direction,
    with_memberships: bool,
    start: tuple[NodeKind, str] | None = None,
    with_snapshot: bool = False,
) -> str:
    """The walk; ``start`` = (kind of the starting nodes, a SELECT of their ids in order) puts the
    starting nodes' query in the same statement, the starting ids then coming back as one array row
    tagged _START; ``with_snapshot`` adds the statement's snapshot as a row tagged _SNAPSHOT."""
    from_artifacts = _types_clause(step_event_types(direction, ARTIFACT))
    from_executions = _types_clause(step_event_types(direction, EXECUTION))
    empty = "CAST(ARRAY[] AS bigint[])"
    if start is None:
        head, source, first_a, first_e, start_rows = "", "", "CAST(%(walk_a)s AS bigint[])", "CAST(%(walk_e)s AS bigint[])", ""
    else:
        start_kind, select_ids = start
        head = f"start(ids) AS MATERIALIZED (SELECT CAST(ARRAY({select_ids}) AS bigint[])),\n"
        source = " FROM start"
        first_a, first_e = ("ids", empty) if start_kind is ARTIFACT else (empty, "ids")
        start_rows = f"""
UNION ALL
SELECT {_START}, NULL, ids, NULL, {_NO_EVENT} FROM start"""
    # Each hop's step is fenced (OFFSET 0) so that its two arrays are computed once, not once per
    # reference; a node already seen is left out with ``<> ALL`` on the few candidates of the hop
    # (cheaper than EXCEPT, which hashed every node seen at every hop: up50 2.5 -> 1.7 ms, chain 1.0 -> 0.5).
    # A one-way walk alternates kinds, so one side of each hop is empty: CASE skips its index scan.
    # The answer comes back as arrays (a row per hop, a row per kind of membership), not a row per
    # node: fewer rows for the database to send and the driver to parse (down10 222 -> 77 rows).
    return f"""
WITH RECURSIVE {head}walk(hop, fa, fe, sa, se) AS (
  SELECT 0, {first_a}, {first_e}, {first_a}, {first_e}{source}
  UNION ALL
  SELECT w.hop + 1, step.na, step.ne, w.sa || step.na, w.se || step.ne
    FROM walk w CROSS JOIN LATERAL (
      SELECT
        CASE WHEN cardinality(w.fe) > 0 THEN ARRAY(SELECT DISTINCT v.artifact_id FROM events v
               WHERE v.execution_id = ANY(w.fe) AND NOT v.artifact_id = ANY(w.sa){from_executions}) ELSE {empty} END AS na,
        CASE WHEN cardinality(w.fa) > 0 THEN ARRAY(SELECT DISTINCT v.execution_id FROM events v
               WHERE v.artifact_id = ANY(w.fa) AND NOT v.execution_id = ANY(w.se){from_artifacts}) ELSE {empty} END AS ne
      OFFSET 0
    ) step
   WHERE w.hop < %(walk_hops)s AND (cardinality(w.fa) > 0 OR cardinality(w.fe) > 0)
),{_answer(from_artifacts, from_executions, "%(walk_hops)s", with_memberships)}{start_rows}{_SNAPSHOT_ROW if with_snapshot else ""}"""


def walk(
    connection: executor.AnyConnection,
    *,
    artifact_ids: Sequence[int] = (),
    execution_ids: Sequence[int] = (),
    start: StartingQuery | None = None,
    direction: Direction = Direction.BOTH,
    max_hops: int,
    with_memberships: bool = False,
    with_snapshot: bool = False,
) -> StatementWalk:
    """The frontier walk's answer (no ending nodes, no keep test, no cap) in one statement.

    With ``start`` the starting nodes are those its query selects, read by the same statement
    (``StatementWalk.started`` lists them; none: an empty walk). ``with_snapshot``: the statement
    also answers the snapshot it read in (``StatementWalk.snapshot``)."""
    artifacts = list(dict.fromkeys(int(i) for i in artifact_ids))
    executions = list(dict.fromkeys(int(i) for i in execution_ids))
    # No transaction: one statement is its own snapshot (PostgreSQL reads run in autocommit).
    if start is None:
        sql = _statement(direction, with_memberships, None, with_snapshot)
        params: dict[str, Any] = {"walk_a": artifacts, "walk_e": executions, "walk_hops": max_hops}
    else:
        sql = _statement(direction, with_memberships, (start.kind, start.sql), with_snapshot)
        params = {**start.params, "walk_hops": max_hops}
    # Database errors come back as SQLAlchemy's, which the store's read maps (UNAVAILABLE, INVALID_ARGUMENT, …).
    rows = executor.fetch_text(connection, sql, params)
    result = StatementWalk()
    events: dict[int, tuple] = {}
    frontiers: list[tuple[int, list[int], list[int]]] = []
    attributions: Iterable[tuple[int, int]] = ()
    associations: Iterable[tuple[int, int]] = ()
    for row in rows:
        tag = row[0]
        if tag == _EVENT:
            events[row[4]] = row[4:]
        elif tag == _HOP:
            frontiers.append((row[1], row[2], row[3]))
        elif tag == _ATTRIBUTION:
            attributions = zip(row[2] or (), row[3] or (), strict=True)
        elif tag == _ASSOCIATION:
            associations = zip(row[2] or (), row[3] or (), strict=True)
        elif tag == _START:
            result.started = list(row[2])
        else:  # _SNAPSHOT
            result.snapshot = row[8]
    if start is not None:
        if start.kind is ARTIFACT:
            artifacts = result.started
        else:
            executions = result.started
    # As the frontier walk admits them: starting nodes in the order given, then hop by hop in id order
    # (built as one list per kind: a chain is 80 hops of one node each, and a call per hop would cost
    # more than the walk's rows).
    frontiers.sort()
    reached = [(hop, found_a, found_e) for hop, found_a, found_e in frontiers if hop and (found_a or found_e)]
    admitted_a = [(node_id, 0) for node_id in artifacts]
    admitted_a += [(node_id, hop) for hop, found, _ in reached for node_id in (sorted(found) if len(found) > 1 else found)]
    admitted_e = [(node_id, 0) for node_id in executions]
    admitted_e += [(node_id, hop) for hop, _, found in reached for node_id in (sorted(found) if len(found) > 1 else found)]
    result.artifacts = dict(admitted_a)
    result.executions = dict(admitted_e)
    hops = reached[-1][0] if reached else 0
    result.events = [EventEdge(*events[event_id][:4]) for event_id in sorted(events)]
    result.event_rows = events
    result.attributions = sorted(set(attributions))
    result.associations = sorted(set(associations))
    result.hops = hops
    return result
