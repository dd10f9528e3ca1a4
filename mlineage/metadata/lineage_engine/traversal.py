"""Lineage traversal in the database: batched frontier queries over the events table, one per hop and side.

The walk is a breadth-first search whose frontier is one ``IN`` list per
node kind: each hop asks the events indexes only for the edges of the
current frontier, and visited sets keep diamonds and cycles from being
walked twice, so the cost follows the size of the answer, not of the store.

Hops are counted as MLMD counts them (artifact -> execution is one hop),
and the edges kept follow MLMD's ``QueryLineageSubgraph`` rules exactly:
an edge to a newly reached node is kept; an edge to an already visited
node is kept only on a one-way (upstream/downstream) walk; an edge to an
ending node is kept only when ending nodes are included. Nodes an
optional ``keep`` test rejects are dropped with their edges, and the walk
is pruned behind them (MLMD's ``GetLineageGraph`` boundaries).

A node cap never fails a query: the walk stops admitting nodes at the cap,
answers ``truncated=True`` and a ``cursor``; calling ``traverse`` again with
the same arguments and that cursor continues exactly where the page ended.
Pages never repeat a node or an edge, and their union is the uncapped answer.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from mlineage.errors import InvalidArgumentError
from mlineage.metadata import dialect, executor, page_tokens
from mlineage.metadata.kinds import ARTIFACT, EXECUTION, KINDS, NodeKind
from mlineage.metadata.lineage_engine.reads import EventEdge, EventReader
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.schema import tables as t

_E = pb.Event
INPUT_EVENTS = (_E.INPUT, _E.DECLARED_INPUT, _E.INTERNAL_INPUT)
OUTPUT_EVENTS = (_E.OUTPUT, _E.DECLARED_OUTPUT, _E.INTERNAL_OUTPUT, _E.PENDING_OUTPUT)

#: MLMD's kQueryLineageSubgraphMaxNumHops: the default and the ceiling of a subgraph query's hops.
MAX_HOPS_DEFAULT = 100

Connection = executor.AnyConnection

#: Answers whether nodes of a kind pass a test: ``test(connection, kind, ids) -> ids that pass``.
NodeTest = Callable[[Connection, NodeKind, Sequence[int]], "set[int]"]


class Direction(enum.Enum):
    UPSTREAM = "up"
    DOWNSTREAM = "down"
    BOTH = "both"


@dataclass(frozen=True)
class Ending:
    """MLMD's ending nodes: nodes that pass the test are reached but not expanded, and only
    returned (with the edges into them) when included."""

    artifacts: NodeTest | None = None
    executions: NodeTest | None = None
    include_artifacts: bool = False
    include_executions: bool = False

    def test(self, kind: NodeKind) -> NodeTest | None:
        return self.artifacts if kind is ARTIFACT else self.executions

    def include(self, kind: NodeKind) -> bool:
        return self.include_artifacts if kind is ARTIFACT else self.include_executions


@dataclass
class Traversal:
    """One page of a walk: the nodes and edges it admitted, each node with the hop that reached it."""

    artifacts: dict[int, int] = field(default_factory=dict)  # id -> hop, in the order admitted
    executions: dict[int, int] = field(default_factory=dict)
    events: list[EventEdge] = field(default_factory=list)
    truncated: bool = False
    #: Pass back to ``traverse`` (with the same arguments) to get the next page; None when complete.
    cursor: str | None = None
    #: Hops walked so far (over all pages).
    hops: int = 0
    #: Nodes that matched an ending condition (admitted or not).
    ending_artifacts: set[int] = field(default_factory=set)
    ending_executions: set[int] = field(default_factory=set)
    #: The walked events' full rows by id, where the walk read them on its way (else None):
    #: (id, artifact_id, execution_id, type, path, milliseconds_since_epoch, system_metadata).
    event_rows: dict[int, tuple] | None = None

    @property
    def node_count(self) -> int:
        return len(self.artifacts) + len(self.executions)


def step_event_types(direction: Direction, from_kind: NodeKind) -> tuple[int, ...] | None:
    """Event types that lead one hop in ``direction`` from a node of ``from_kind`` (None: every type)."""
    if direction is Direction.BOTH:
        return None
    downstream = direction is Direction.DOWNSTREAM
    if from_kind is ARTIFACT:
        # artifact -> execution: downstream through its readers, upstream through its writer
        return INPUT_EVENTS if downstream else OUTPUT_EVENTS
    return OUTPUT_EVENTS if downstream else INPUT_EVENTS


def neighbours(
    connection: Connection, from_kind: NodeKind, ids: Sequence[int], direction: Direction
) -> list[tuple[int, int]]:
    """(from id, to id) pairs one hop away; artifacts lead to executions and back."""
    reader = EventReader(connection)
    try:
        rows = reader.events_of(from_kind, list(ids), step_event_types(direction, from_kind))
    finally:
        reader.close()
    if from_kind is ARTIFACT:
        return [(row.artifact_id, row.execution_id) for row in rows]
    return [(row.execution_id, row.artifact_id) for row in rows]


# --- the walk -----------------------------------------------------------------------------------

_KINDS = (ARTIFACT, EXECUTION)


def _other(kind: NodeKind) -> NodeKind:
    return EXECUTION if kind is ARTIFACT else ARTIFACT


def _target(kind: NodeKind, row: EventEdge) -> int:
    """The far end of ``row`` seen from a node of ``kind``."""
    return row.execution_id if kind is ARTIFACT else row.artifact_id


def _by_kind(make: Callable[[], Any]) -> dict[NodeKind, Any]:
    return {ARTIFACT: make(), EXECUTION: make()}


@dataclass
class _State:
    """Everything needed to go on walking; serialized into the cursor between pages (kinds by name)."""

    hop: int = 0
    frontier: dict[NodeKind, list[int]] = field(default_factory=lambda: _by_kind(list))
    seen: dict[NodeKind, dict[int, int]] = field(default_factory=lambda: _by_kind(dict))
    ending: dict[NodeKind, dict[int, int]] = field(default_factory=lambda: _by_kind(dict))
    # Reached but not yet admitted (the cap cut them off): (kind, id, hop) and the edges into each.
    pending: list[tuple[NodeKind, int, int]] = field(default_factory=list)
    pending_events: dict[tuple[NodeKind, int], list[EventEdge]] = field(default_factory=dict)


#: The cursor's messages: a damaged or forged cursor, and a well-formed one of another query.
_INVALID_CURSOR = "the lineage cursor is not one this server issued"
_OTHER_QUERY_CURSOR = (
    "the lineage cursor belongs to another query (another direction or hop limit, other starting nodes, "
    "ending conditions or filters): pass it back with the arguments of the query that returned it"
)
_KIND_NAMES = (ARTIFACT.name, EXECUTION.name)


def _fingerprint(
    direction: Direction,
    max_hops: int,
    artifact_ids: Sequence[int],
    execution_ids: Sequence[int],
    ending: Ending,
    keep: NodeTest | None,
    bound: Sequence[Any],
) -> str:
    """The query a cursor is bound to: everything that shapes the walk (not ``max_nodes``, a page's size).

    ``ending`` and ``keep`` are functions: the token holds whether each is set and the
    include flags, and the caller's ``bound`` values say what the tests are (their filters).
    """
    return page_tokens.fingerprint(
        "lineage",
        direction.value,
        max_hops,
        sorted(set(artifact_ids)),
        sorted(set(execution_ids)),
        [ending.artifacts is not None, ending.executions is not None, ending.include_artifacts, ending.include_executions],
        keep is not None,
        list(bound),
    )


def _encode(state: _State, query: str) -> str:
    def ids(mapping: dict[int, int]) -> list[list[int]]:
        keys = sorted(mapping)
        deltas = [b - a for a, b in zip([0, *keys], keys, strict=False)]
        return [deltas, [mapping[k] for k in keys]]

    position = {
        "hop": state.hop,
        "f": {k.name: v for k, v in state.frontier.items()},
        "s": {k.name: ids(v) for k, v in state.seen.items()},
        "x": {k.name: ids(v) for k, v in state.ending.items()},
        "p": [(kind.name, node, hop) for kind, node, hop in state.pending],
        "pe": [[kind.name, node, [list(e) for e in edges]] for (kind, node), edges in state.pending_events.items()],
    }
    return page_tokens.encode(query, position, compress=True)


def _read_state(body: dict[str, Any]) -> _State:
    """The walk's state from a cursor's body; ValueError, KeyError or TypeError for one that is not."""
    int64 = page_tokens.int64

    def kind(value: Any) -> NodeKind:
        if value not in _KIND_NAMES:
            raise ValueError("not a node kind")
        return KINDS[value]

    def by_kind(value: Any) -> dict[NodeKind, Any]:
        if not isinstance(value, dict) or sorted(value) != sorted(_KIND_NAMES):
            raise ValueError("not one entry per node kind")
        return {KINDS[name]: entry for name, entry in value.items()}

    def ids(pair: Any) -> dict[int, int]:
        deltas, hops = pair
        out, current = {}, 0
        for delta, hop in zip(deltas, hops, strict=True):
            current = int64(current + int64(delta))
            out[current] = int64(hop)
        return out

    return _State(
        hop=int64(body["hop"]),
        frontier={k: [int64(i) for i in v] for k, v in by_kind(body["f"]).items()},
        seen={k: ids(v) for k, v in by_kind(body["s"]).items()},
        ending={k: ids(v) for k, v in by_kind(body["x"]).items()},
        pending=[(kind(k), int64(i), int64(h)) for k, i, h in body["p"]],
        pending_events={
            (kind(k), int64(i)): [EventEdge(*(int64(value) for value in e)) for e in edges]
            for k, i, edges in body["pe"]
        },
    )


def _decode(cursor: str, query: str) -> _State:
    return page_tokens.decode(cursor, query, _read_state, invalid=_INVALID_CURSOR, mismatch=_OTHER_QUERY_CURSOR)


def traverse(
    connection: Connection,
    *,
    artifact_ids: Iterable[int] = (),
    execution_ids: Iterable[int] = (),
    direction: Direction = Direction.BOTH,
    max_hops: int = MAX_HOPS_DEFAULT,
    ending: Ending | None = None,
    keep: NodeTest | None = None,
    max_nodes: int | None = None,
    cursor: str | None = None,
    bound: Sequence[Any] = (),
) -> Traversal:
    """Walk from the starting nodes; one page of at most ``max_nodes`` nodes (starting nodes always fit).

    ``ending`` names nodes that are reached but not expanded (MLMD's ending
    nodes; starting nodes that match are dropped unless included). ``keep``
    drops the nodes it rejects and prunes the walk behind them.

    The ``cursor`` of a page is bound to the query: direction, hop limit,
    starting nodes, which of ``ending``/``keep`` are set, and ``bound`` (JSON
    values the caller names its tests by, e.g. their filter queries); handed
    to another query it is INVALID_ARGUMENT. ``max_nodes`` may change between pages.
    """
    if max_hops < 0:
        raise InvalidArgumentError(f"max_hops must not be negative, got {max_hops}")
    if max_nodes is not None and max_nodes < 1:
        raise InvalidArgumentError(f"max_nodes must be positive, got {max_nodes}")
    ending = ending or Ending()
    artifact_ids, execution_ids = list(dict.fromkeys(artifact_ids)), list(dict.fromkeys(execution_ids))
    query = _fingerprint(direction, max_hops, artifact_ids, execution_ids, ending, keep, bound)
    walk = _Walk(connection, direction, max_hops, ending, keep)
    try:
        if cursor:
            state = _decode(cursor, query)
        else:
            state = walk.start(artifact_ids, execution_ids)
        result = Traversal()
        # Starting nodes are always admitted; after them, up to max_nodes per page.
        room = max_nodes if cursor else None
        while True:
            walk.admit(state, result, room)
            if state.pending:
                result.truncated = True
                result.cursor = _encode(state, query)
                break
            if state.hop >= max_hops or not (state.frontier[ARTIFACT] or state.frontier[EXECUTION]):
                break
            walk.expand(state, result)
            room = None if max_nodes is None else max_nodes - result.node_count
        result.hops = state.hop
        result.ending_artifacts = set(state.ending[ARTIFACT])
        result.ending_executions = set(state.ending[EXECUTION])
        return result
    finally:
        walk.close()


class _Walk:
    def __init__(
        self, connection: Connection, direction: Direction, max_hops: int, ending: Ending, keep: NodeTest | None
    ) -> None:
        self.connection = connection
        self.direction = direction
        self.ending = ending
        self.keep = keep
        self.reader = EventReader(connection)
        self.rejected: dict[NodeKind, set[int]] = _by_kind(set)

    def close(self) -> None:
        self.reader.close()

    def start(self, artifact_ids: list[int], execution_ids: list[int]) -> _State:
        state = _State()
        for kind, ids in ((ARTIFACT, artifact_ids), (EXECUTION, execution_ids)):
            if not ids:
                continue
            test = self.ending.test(kind)
            ending = test(self.connection, kind, ids) if test is not None else set()
            include = self.ending.include(kind)
            for node_id in ids:
                if node_id in ending:
                    state.ending[kind][node_id] = 0
                    if include:
                        state.pending.append((kind, node_id, 0))
                else:
                    state.seen[kind][node_id] = 0
                    state.frontier[kind].append(node_id)
                    state.pending.append((kind, node_id, 0))
        return state

    def admit(self, state: _State, result: Traversal, room: int | None) -> None:
        """Move pending nodes (and the edges into them) into the page while there is room."""
        count = len(state.pending) if room is None else max(0, min(room, len(state.pending)))
        for kind, node_id, hop in state.pending[:count]:
            (result.artifacts if kind is ARTIFACT else result.executions)[node_id] = hop
            result.events.extend(state.pending_events.pop((kind, node_id), ()))
        del state.pending[:count]

    def expand(self, state: _State, result: Traversal) -> None:
        """One hop from the frontier of both kinds; new nodes go to pending, in id order."""
        hop = state.hop + 1
        directional = self.direction is not Direction.BOTH
        next_frontier: dict[NodeKind, list[int]] = _by_kind(list)
        for kind in _KINDS:
            sources = state.frontier[kind]
            if not sources:
                continue
            other = _other(kind)
            seen, ending = state.seen[other], state.ending[other]
            rejected = self.rejected[other]
            rows = self.reader.events_of(kind, sources, step_event_types(self.direction, kind))
            candidates = list(
                dict.fromkeys(
                    target
                    for target in (_target(kind, row) for row in rows)
                    if target not in seen and target not in ending and target not in rejected
                )
            )
            if self.keep is not None and candidates:
                kept = self.keep(self.connection, other, candidates)
                rejected.update(c for c in candidates if c not in kept)
                candidates = [c for c in candidates if c in kept]
            test = self.ending.test(other)
            ending_now = test(self.connection, other, candidates) if test is not None and candidates else set()
            include = self.ending.include(other)
            fresh = [c for c in candidates if c not in ending_now]
            fresh_set = set(fresh)
            for node_id in ending_now:
                ending[node_id] = hop
            for row in rows:
                target = _target(kind, row)
                if target in fresh_set or (include and target in ending_now):
                    state.pending_events.setdefault((other, target), []).append(row)
                elif target in ending:
                    if include:
                        result.events.append(row)
                elif target in seen:
                    if directional:
                        result.events.append(row)
            for node_id in fresh:
                seen[node_id] = hop
            next_frontier[other] = fresh
            admitted = sorted(fresh_set | ending_now) if include else sorted(fresh_set)
            state.pending.extend((other, node_id, hop) for node_id in admitted)
        state.frontier = next_frontier
        state.hop = hop


def plain_walk(
    connection: Connection,
    *,
    artifact_ids: Iterable[int] = (),
    execution_ids: Iterable[int] = (),
    direction: Direction = Direction.BOTH,
    max_hops: int = MAX_HOPS_DEFAULT,
) -> Traversal:
    """``traverse`` without ending nodes, keep test or cap, in one tight loop (MLMD's common query).

    Same nodes, hops and node order as ``traverse``; the same edges, in event id order. Without
    ending nodes every neighbour of an expanded node is a new node or a visited one, so the edges
    kept are the direction's events of every expanded node (each once): a one-way walk keeps
    edges to visited nodes, and on a two-way walk the graph is bipartite, so a visited neighbour
    is the one the edge first reached it from.
    """
    if max_hops < 0:
        raise InvalidArgumentError(f"max_hops must not be negative, got {max_hops}")
    result = Traversal()
    seen = {ARTIFACT: result.artifacts, EXECUTION: result.executions}
    frontier = {ARTIFACT: list(dict.fromkeys(artifact_ids)), EXECUTION: list(dict.fromkeys(execution_ids))}
    for kind, ids in frontier.items():
        seen[kind].update((node_id, 0) for node_id in ids)
    types = {kind: step_event_types(direction, kind) for kind in _KINDS}
    rows: dict[int, tuple] = {}
    reader = EventReader(connection)
    hop = 0
    try:
        while hop < max_hops and (frontier[ARTIFACT] or frontier[EXECUTION]):
            hop += 1
            found: dict[NodeKind, list[int]] = {ARTIFACT: [], EXECUTION: []}
            # Both kinds' rows first, then their targets: a hop's new nodes are admitted kind by kind.
            for kind, target_kind, column in ((ARTIFACT, EXECUTION, 2), (EXECUTION, ARTIFACT, 1)):
                sources = frontier[kind]
                if not sources:
                    continue
                visited, fresh = seen[target_kind], found[target_kind]
                # Full rows: the answer needs them, and every row read here is an edge of it.
                for row in reader.events_of(kind, sources, types[kind], full=True):
                    rows[row[0]] = row
                    target = row[column]
                    if target not in visited:
                        visited[target] = hop
                        fresh.append(target)
            for target_kind in (EXECUTION, ARTIFACT):
                fresh = sorted(found[target_kind])
                if fresh:
                    # dict order is admission order: re-insert this hop's nodes sorted by id.
                    for node_id in fresh:
                        del seen[target_kind][node_id]
                    seen[target_kind].update((node_id, hop) for node_id in fresh)
            frontier = found
    finally:
        reader.close()
    result.events = [EventEdge(*rows[event_id][:4]) for event_id in sorted(rows)]
    result.event_rows = rows
    result.hops = hop
    return result


# --- tests on nodes -----------------------------------------------------------------------------


def _ids_passing(connection: Connection, kind: NodeKind, ids: Sequence[int], conditions: Sequence[Any], join=None) -> set[int]:
    """Which of ``ids`` (nodes of ``kind``) meet every condition (built for this test; SQLAlchemy caches it)."""
    table = kind.table
    found: set[int] = set()
    for part in dialect.chunks(list(ids), dialect.HOP_BATCH):

        def build(_dialect: str, part: Sequence[int] = part):
            stmt = select(table.c.id)
            if join is not None:
                stmt = stmt.join(*join)
            return stmt.where(table.c.id.in_(list(part)), *conditions)

        found.update(row[0] for row in executor.run(connection, build))
    return found


def filter_test(kind_queries: Mapping[NodeKind | str, str | None], *, missing_passes: bool = False) -> NodeTest | None:
    """A NodeTest from MLMD filter queries by kind (a NodeKind, or its name) (None if no kind has one).

    A kind without a query passes nothing, or everything with ``missing_passes``;
    an empty query (as opposed to none) selects every node, as in MLMD.
    """
    if all(query is None for query in kind_queries.values()):
        return None

    queries = {(KINDS[key] if isinstance(key, str) else key): query for key, query in kind_queries.items()}

    def test(connection: Connection, kind: NodeKind, ids: Sequence[int]) -> set[int]:
        query = queries.get(kind)
        if query is None:
            return set(ids) if missing_passes else set()
        from mlineage.metadata.filter_query import compile_filter

        return _ids_passing(connection, kind, ids, [compile_filter(kind.name, query)])

    return test


def type_state_test(
    *,
    artifact_types: Sequence[str] | None = None,
    execution_types: Sequence[str] | None = None,
    artifact_states: Sequence[int] | None = None,
    execution_states: Sequence[int] | None = None,
) -> NodeTest | None:
    """A NodeTest that passes nodes of the given type names and states (None: any); None if no filter."""
    wanted = {
        ARTIFACT: (artifact_types, artifact_states, t.artifacts.c.state),
        EXECUTION: (execution_types, execution_states, t.executions.c.last_known_state),
    }
    if all(types is None and states is None for types, states, _ in wanted.values()):
        return None

    def test(connection: Connection, kind: NodeKind, ids: Sequence[int]) -> set[int]:
        types, states, state_column = wanted[kind]
        if types is None and states is None:
            return set(ids)
        join = None
        conditions = []
        if types is not None:
            join = (t.types, t.types.c.id == kind.table.c.type_id)
            conditions.append(t.types.c.name.in_(list(types)))
        if states is not None:
            conditions.append(state_column.in_(list(states)))
        return _ids_passing(connection, kind, ids, conditions, join)

    return test


