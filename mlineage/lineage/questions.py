"""The lineage questions people ask, as functions: where did this model come from, what did this data feed.

Each is one walk in the database (traversal.py) plus, where the question
names a kind of artifact, a filter on the answer: the walk goes through every
node, the answer keeps the datasets (or models) it passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from mlineage.errors import InvalidArgumentError, NotFoundError
from mlineage.lineage.query import Lineage, Node, lineage
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION, KINDS
from mlineage.metadata.lineage_engine.graph import edge_messages, nodes
from mlineage.metadata.lineage_engine.reads import EventEdge, EventReader
from mlineage.metadata.lineage_engine.traversal import (
    INPUT_EVENTS,
    MAX_HOPS_DEFAULT,
    Direction,
    step_event_types,
)
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.schema import tables as t

_BASE = pb.ArtifactType.SystemDefinedBaseType
#: Artifact type names taken for datasets and models when their type declares no MLMD base type.
DATASET_TYPE_NAMES = ("Dataset", "Examples", "RawData", "TransformedExamples")
MODEL_TYPE_NAMES = ("Model",)


def _typed(store: Store, artifacts: Iterable[pb.Artifact], base_type: int, names: Sequence[str]) -> list:
    """The artifacts whose type has the MLMD base type or one of the names."""
    artifacts = list(artifacts)
    with store.reading() as connection:
        type_ids = {a.type_id for a in artifacts}
        rows = connection.execute(
            select(t.types.c.id, t.types.c.name, t.types.c.base_type).where(t.types.c.id.in_(type_ids))
        ).all()
    wanted = {row.id for row in rows if row.base_type == base_type or row.name in names}
    return [a for a in artifacts if a.type_id in wanted]


def _by_hop(answer: Lineage, artifacts: Iterable[pb.Artifact]) -> list[pb.Artifact]:
    return sorted(artifacts, key=lambda a: (answer.hops.get(("artifact", a.id), 0), a.id))


def upstream_datasets(
    store: Store, artifact_id: int, *, type_names: Sequence[str] = DATASET_TYPE_NAMES, max_hops: int = MAX_HOPS_DEFAULT
) -> list[pb.Artifact]:
    """The datasets a model (or any artifact) was made from, nearest first.

    A dataset is an artifact whose type has MLMD's DATASET base type or one of ``type_names``.
    """
    answer = lineage(store, artifact_ids=[artifact_id], direction=Direction.UPSTREAM, max_hops=max_hops,
                     with_contexts=False)  # fmt: skip
    found = [a for a in answer.graph.artifacts if a.id != artifact_id]
    return _by_hop(answer, _typed(store, found, _BASE.DATASET, type_names))


def models_trained_from(
    store: Store, artifact_id: int, *, type_names: Sequence[str] = MODEL_TYPE_NAMES, max_hops: int = MAX_HOPS_DEFAULT
) -> list[pb.Artifact]:
    """The models made (directly or not) from a dataset, nearest first."""
    answer = lineage(store, artifact_ids=[artifact_id], direction=Direction.DOWNSTREAM, max_hops=max_hops,
                     with_contexts=False)  # fmt: skip
    found = [a for a in answer.graph.artifacts if a.id != artifact_id]
    return _by_hop(answer, _typed(store, found, _BASE.MODEL, type_names))


def executions_reading(store: Store, artifact_id: int) -> list[pb.Execution]:
    """Every execution that read the artifact (an INPUT, DECLARED_INPUT or INTERNAL_INPUT event), by id."""
    with store.reading() as connection:
        _require(connection, [("artifact", artifact_id)])
        reader = EventReader(connection)
        try:
            edges = reader.events_of(ARTIFACT, [artifact_id], INPUT_EVENTS)
        finally:
            reader.close()
        return nodes(connection, EXECUTION, sorted({edge.execution_id for edge in edges}))


def downstream_impact(
    store: Store, artifact_id: int, *, max_hops: int = MAX_HOPS_DEFAULT, max_nodes: int | None = None,
    cursor: str | None = None,
) -> Lineage:  # fmt: skip
    """Everything a (bad) dataset reached: every artifact and execution downstream, with their runs.

    With ``max_nodes`` the answer comes in pages (``truncated`` and ``cursor``).
    """
    return lineage(store, artifact_ids=[artifact_id], direction=Direction.DOWNSTREAM, max_hops=max_hops,
                   max_nodes=max_nodes, cursor=cursor)  # fmt: skip


def runs_of(store: Store, node: Node, *, ancestors: bool = True) -> list[pb.Context]:
    """The contexts (runs, pipelines, experiments) a node belongs to, and with ``ancestors`` their parents."""
    kind = KINDS.get(node[0])
    if kind is None or kind is CONTEXT:
        raise InvalidArgumentError(f"runs_of takes an artifact or an execution, not {node[0]!r}")
    table, column = (
        (t.attributions, t.attributions.c.artifact_id) if kind is ARTIFACT else (t.associations, t.associations.c.execution_id)
    )
    with store.reading() as connection:
        _require(connection, [node])
        found = set(connection.execute(select(table.c.context_id).where(column == node[1])).scalars())
        frontier = set(found)
        while ancestors and frontier:
            parents = set(
                connection.execute(
                    select(t.parent_contexts.c.parent_id).where(t.parent_contexts.c.child_id.in_(frontier))
                ).scalars()
            )
            frontier = parents - found
            found |= parents
        return nodes(connection, CONTEXT, sorted(found))


@dataclass
class Path:
    """A shortest path between two nodes: the nodes in order and the events joining them."""

    nodes: list[Node]
    events: list[pb.Event]
    direction: Direction


def path_between(store: Store, source: Node, target: Node, *, max_hops: int = MAX_HOPS_DEFAULT) -> Path | None:
    """A shortest path from ``source`` to ``target``: following the data downstream if there is one,
    else upstream, else ignoring directions; None when they are not connected within ``max_hops``."""
    with store.reading() as connection:
        _require(connection, [source, target])
        if source == target:
            return Path([source], [], Direction.BOTH)
        reader = EventReader(connection)
        try:
            for direction in (Direction.DOWNSTREAM, Direction.UPSTREAM, Direction.BOTH):
                found = _shortest(reader, source, target, direction, max_hops)
                if found is not None:
                    path_nodes, edges = found
                    return Path(path_nodes, edge_messages(connection, edges), direction)
        finally:
            reader.close()
    return None


def _shortest(
    reader: EventReader, source: Node, target: Node, direction: Direction, max_hops: int
) -> tuple[list[Node], list[EventEdge]] | None:
    parent: dict[Node, tuple[Node, EventEdge] | None] = {source: None}
    frontier = [source]
    for _ in range(max_hops):
        if not frontier:
            return None
        following: list[Node] = []
        for kind in (ARTIFACT, EXECUTION):
            ids = [node_id for kind_name, node_id in frontier if kind_name == kind.name]
            if not ids:
                continue
            other = "execution" if kind is ARTIFACT else "artifact"
            for edge in reader.events_of(kind, ids, step_event_types(direction, kind)):
                here = (kind.name, edge.artifact_id if kind is ARTIFACT else edge.execution_id)
                there = (other, edge.execution_id if kind is ARTIFACT else edge.artifact_id)
                if there in parent:
                    continue
                parent[there] = (here, edge)
                following.append(there)
        if target in parent:
            path_nodes, edges = [target], []
            step = parent[target]
            while step is not None:
                previous, edge = step
                path_nodes.append(previous)
                edges.append(edge)
                step = parent[previous]
            return path_nodes[::-1], edges[::-1]
        frontier = following
    return None


def _require(connection, wanted: Sequence[Node]) -> None:
    for kind_name, node_id in wanted:
        kind = KINDS.get(kind_name)
        if kind is None or kind is CONTEXT:
            raise InvalidArgumentError(f"a lineage node is an artifact or an execution, not {kind_name!r}")
        if connection.execute(select(kind.table.c.id).where(kind.table.c.id == node_id)).first() is None:
            raise NotFoundError(f"{kind_name} {node_id} not found")
