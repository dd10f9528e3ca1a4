"""The lineage questions people ask, as functions: where did this model come from, what did this data feed.

Each is one walk in the database (traversal.py) plus, where the question
names a kind of artifact, a filter on the answer: the walk goes through every
node, the answer keeps the datasets (or models) it passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mlineage.errors import InvalidArgumentError, NotFoundError
from mlineage.lineage.node_keys import Node, kind_of, node_of
from mlineage.lineage.query import Lineage, lineage
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION, KINDS, NodeKind
from mlineage.metadata.lineage_engine.traversal import (
    INPUT_EVENTS,
    MAX_HOPS_DEFAULT,
    Direction,
    step_event_types,
)
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb

_BASE = pb.ArtifactType.SystemDefinedBaseType
#: Artifact type names taken for datasets and models when their type declares no MLMD base type.
DATASET_TYPE_NAMES = ("Dataset", "Examples", "RawData", "TransformedExamples")
MODEL_TYPE_NAMES = ("Model",)


def _typed(store: Store, artifacts: Iterable[pb.Artifact], base_type: int, names: Sequence[str]) -> list:
    """The artifacts whose type has the MLMD base type or one of the names."""
    artifacts = list(artifacts)
    types = store.get_artifact_types_by_id(sorted({a.type_id for a in artifacts}))
    wanted = {found.id for found in types if found.base_type == base_type or found.name in names}
    return [a for a in artifacts if a.type_id in wanted]


def _by_hop(answer: Lineage, artifacts: Iterable[pb.Artifact]) -> list[pb.Artifact]:
    return sorted(artifacts, key=lambda a: (answer.hops.get(node_of(ARTIFACT, a.id), 0), a.id))


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
    _require(store, [node_of(ARTIFACT, artifact_id)])
    events = store.get_events_by_artifact_ids([artifact_id])
    return store.get_executions_by_id(sorted({e.execution_id for e in events if e.type in INPUT_EVENTS}))


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
    _require(store, [node])
    try:
        member_of = (
            store.get_contexts_by_artifact(node[1]) if kind is ARTIFACT else store.get_contexts_by_execution(node[1])
        )
    except NotFoundError:  # MLMD's answer for a node in no context
        member_of = []
    found = {context.id for context in member_of}
    frontier = set(found)
    while ancestors and frontier:
        parents = {p.id for ps in store.get_parent_contexts_by_contexts(sorted(frontier)).values() for p in ps}
        frontier = parents - found
        found |= parents
    return store.get_contexts_by_id(sorted(found))


@dataclass
class Path:
    """A shortest path between two nodes: the nodes in order and the events joining them."""

    nodes: list[Node]
    events: list[pb.Event]
    direction: Direction


def path_between(store: Store, source: Node, target: Node, *, max_hops: int = MAX_HOPS_DEFAULT) -> Path | None:
    """A shortest path from ``source`` to ``target``: following the data downstream if there is one,
    else upstream, else ignoring directions; None when they are not connected within ``max_hops``."""
    _require(store, [source, target])
    if source == target:
        return Path([source], [], Direction.BOTH)
    for direction in (Direction.DOWNSTREAM, Direction.UPSTREAM, Direction.BOTH):
        found = _shortest(store, source, target, direction, max_hops)
        if found is not None:
            path_nodes, events = found
            return Path(path_nodes, events, direction)
    return None


def _events_of(store: Store, kind: NodeKind, ids: list[int], types: tuple[int, ...] | None) -> list[pb.Event]:
    events = store.get_events_by_artifact_ids(ids) if kind is ARTIFACT else store.get_events_by_execution_ids(ids)
    return events if types is None else [event for event in events if event.type in types]


def _shortest(
    store: Store, source: Node, target: Node, direction: Direction, max_hops: int
) -> tuple[list[Node], list[pb.Event]] | None:
    parent: dict[Node, tuple[Node, pb.Event] | None] = {source: None}
    frontier = [source]
    for _ in range(max_hops):
        if not frontier:
            return None
        following: list[Node] = []
        for kind, other in ((ARTIFACT, EXECUTION), (EXECUTION, ARTIFACT)):
            ids = [node[1] for node in frontier if kind_of(node) is kind]
            if not ids:
                continue
            for event in _events_of(store, kind, ids, step_event_types(direction, kind)):
                here = node_of(kind, event.artifact_id if kind is ARTIFACT else event.execution_id)
                there = node_of(other, event.execution_id if kind is ARTIFACT else event.artifact_id)
                if there in parent:
                    continue
                parent[there] = (here, event)
                following.append(there)
        if target in parent:
            path_nodes, events = [target], []
            step = parent[target]
            while step is not None:
                previous, event = step
                path_nodes.append(previous)
                events.append(event)
                step = parent[previous]
            return path_nodes[::-1], events[::-1]
        frontier = following
    return None


def _require(store: Store, wanted: Sequence[Node]) -> None:
    for node in wanted:
        kind = kind_of(node)  # INVALID_ARGUMENT for a context or an unknown kind
        found = store.get_artifacts_by_id([node[1]]) if kind is ARTIFACT else store.get_executions_by_id([node[1]])
        if not found:
            raise NotFoundError(f"{kind.name} {node[1]} not found")
