"""Lineage traversal in the database: batched frontier queries over events, one query per hop and side.

Cost grows with the answer, not the store: each hop asks the events index
only for the current frontier, and a visited set keeps diamonds and cycles
from being walked twice. MLMD's hop counting applies: artifact -> execution
is one hop.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, and_, select

from mlineage.metadata.kinds import ARTIFACT, EXECUTION, NodeKind
from mlineage.metadata.nodes import chunks
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.schema import tables as t

_E = pb.Event
INPUT_EVENTS = (_E.INPUT, _E.DECLARED_INPUT, _E.INTERNAL_INPUT)
OUTPUT_EVENTS = (_E.OUTPUT, _E.DECLARED_OUTPUT, _E.INTERNAL_OUTPUT, _E.PENDING_OUTPUT)

MAX_HOPS_DEFAULT = 100


class Direction(enum.Enum):
    UPSTREAM = "up"
    DOWNSTREAM = "down"
    BOTH = "both"


@dataclass
class Traversal:
    """What a traversal found: node ids by kind, the hop at which each was reached, and the edges walked."""

    artifact_ids: dict[int, int] = field(default_factory=dict)  # id -> hop
    execution_ids: dict[int, int] = field(default_factory=dict)
    truncated: bool = False
    # Nodes reached at the cut-off: expanding them continues the walk (for "truncated" answers).
    frontier_artifacts: list[int] = field(default_factory=list)
    frontier_executions: list[int] = field(default_factory=list)


NodeFilter = "callable[[Connection, NodeKind, list[int]], set[int]]"


def _step_events(direction: Direction, from_kind: NodeKind) -> tuple[int, ...] | None:
    """Event types that lead one hop in ``direction`` from a node of ``from_kind`` (None: all)."""
    if direction is Direction.BOTH:
        return None
    downstream = direction is Direction.DOWNSTREAM
    if from_kind is ARTIFACT:
        # artifact -> execution: downstream through reads, upstream through the write that made it
        return INPUT_EVENTS if downstream else OUTPUT_EVENTS
    return OUTPUT_EVENTS if downstream else INPUT_EVENTS


def neighbours(
    connection: Connection, from_kind: NodeKind, ids: Sequence[int], direction: Direction
) -> list[tuple[int, int]]:
    """(from id, to id) pairs one hop away; artifacts lead to executions and back."""
    events = t.events
    if from_kind is ARTIFACT:
        source, target = events.c.artifact_id, events.c.execution_id
    else:
        source, target = events.c.execution_id, events.c.artifact_id
    allowed = _step_events(direction, from_kind)
    pairs: list[tuple[int, int]] = []
    for part in chunks(list(ids)):
        condition = source.in_(part)
        if allowed is not None:
            condition = and_(condition, events.c.type.in_(allowed))
        pairs.extend((row[0], row[1]) for row in connection.execute(select(source, target).where(condition)))
    return pairs


def traverse(
    connection: Connection,
    *,
    artifact_ids: Iterable[int] = (),
    execution_ids: Iterable[int] = (),
    direction: Direction = Direction.BOTH,
    max_hops: int = MAX_HOPS_DEFAULT,
    stop_at=None,
    keep=None,
    max_nodes: int | None = None,
) -> Traversal:
    """Walk from the starting nodes.

    ``keep(connection, kind, ids) -> set`` drops nodes (and prunes the walk behind
    them); ``stop_at(connection, kind, ids) -> set`` names nodes that are
    reached but not expanded. ``max_nodes`` caps the answer; when the cap
    cuts the walk, ``truncated`` is set and the unexpanded nodes are kept as
    the frontier to continue from.
    """
    result = Traversal()
    frontier = {ARTIFACT: list(dict.fromkeys(artifact_ids)), EXECUTION: list(dict.fromkeys(execution_ids))}
    seen = {ARTIFACT: result.artifact_ids, EXECUTION: result.execution_ids}
    for kind in (ARTIFACT, EXECUTION):
        if keep is not None and frontier[kind]:
            kept = keep(connection, kind, frontier[kind])
            frontier[kind] = [i for i in frontier[kind] if i in kept]
        for node_id in frontier[kind]:
            seen[kind][node_id] = 0
    if max_nodes is not None and len(result.artifact_ids) + len(result.execution_ids) > max_nodes:
        _cap(result, max_nodes)
        return result
    hop = 0
    while hop < max_hops and (frontier[ARTIFACT] or frontier[EXECUTION]):
        hop += 1
        reached = {ARTIFACT: [], EXECUTION: []}
        for kind, other in ((ARTIFACT, EXECUTION), (EXECUTION, ARTIFACT)):
            expandable = frontier[kind]
            if stop_at is not None and expandable and hop > 1:
                stopped = stop_at(connection, kind, expandable)
                expandable = [i for i in expandable if i not in stopped]
            if not expandable:
                continue
            for _, target in neighbours(connection, kind, expandable, direction):
                if target not in seen[other]:
                    reached[other].append(target)
        for kind in (ARTIFACT, EXECUTION):
            new = list(dict.fromkeys(reached[kind]))
            if keep is not None and new:
                kept = keep(connection, kind, new)
                new = [i for i in new if i in kept]
            reached[kind] = new
        total = len(result.artifact_ids) + len(result.execution_ids)
        room = None if max_nodes is None else max_nodes - total
        for kind in (ARTIFACT, EXECUTION):
            new = reached[kind]
            if room is not None:
                if room <= 0 and new:
                    result.truncated = True
                    new = []
                elif len(new) > room:
                    result.truncated = True
                    new = new[:room]
                room -= len(new)
            for node_id in new:
                seen[kind][node_id] = hop
            frontier[kind] = new
        if result.truncated:
            break
    if result.truncated or hop >= max_hops:
        result.frontier_artifacts = list(frontier[ARTIFACT])
        result.frontier_executions = list(frontier[EXECUTION])
    return result


def _cap(result: Traversal, max_nodes: int) -> None:
    result.truncated = True
    keep_artifacts = list(result.artifact_ids)[:max_nodes]
    keep_executions = list(result.execution_ids)[: max(0, max_nodes - len(keep_artifacts))]
    result.artifact_ids = {i: 0 for i in keep_artifacts}
    result.execution_ids = {i: 0 for i in keep_executions}


def events_between(connection: Connection, artifact_ids: Sequence[int], execution_ids: Sequence[int]) -> list:
    """Event rows whose artifact and execution are both in the given sets."""
    if not artifact_ids or not execution_ids:
        return []
    wanted_executions = set(execution_ids)
    rows = []
    for part in chunks(sorted(artifact_ids)):
        for row in connection.execute(select(t.events).where(t.events.c.artifact_id.in_(part))):
            if row.execution_id in wanted_executions:
                rows.append(row)
    rows.sort(key=lambda row: row.id)
    return rows
