"""LineageGraph messages from the node and edge ids a walk found: nodes, events, contexts and types."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, select

from mlineage.lineage.traversal import EventEdge, event_rows
from mlineage.metadata import nodes as node_access
from mlineage.metadata import types as type_access
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION, NodeKind
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.schema import tables as t

#: LineageGraph's fields that a read mask may name (parent_contexts is never filled, as in MLMD).
GRAPH_FIELDS = (
    "artifacts",
    "executions",
    "contexts",
    "artifact_types",
    "execution_types",
    "context_types",
    "events",
    "attributions",
    "associations",
)

_BATCH = 900


def event_message(row) -> pb.Event:
    from mlineage.metadata.store import _event_message

    return _event_message(row)


def memberships(
    connection: Connection, artifact_ids: Sequence[int], execution_ids: Sequence[int]
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(context_id, artifact_id) attributions and (context_id, execution_id) associations of the nodes."""
    found = []
    for table, column, ids in (
        (t.attributions, t.attributions.c.artifact_id, artifact_ids),
        (t.associations, t.associations.c.execution_id, execution_ids),
    ):
        pairs: set[tuple[int, int]] = set()
        ids = list(ids)
        for start in range(0, len(ids), _BATCH):
            part = ids[start : start + _BATCH]
            pairs.update(
                (row[0], row[1]) for row in connection.execute(select(table.c.context_id, column).where(column.in_(part)))
            )
        found.append(sorted(pairs))
    return found[0], found[1]


def fill_graph(
    connection: Connection,
    graph: pb.LineageGraph,
    *,
    artifact_ids: Sequence[int],
    execution_ids: Sequence[int],
    events: Iterable[EventEdge],
    fields: set[str],
    dehydrated: bool,
    namespace: str,
) -> pb.LineageGraph:
    """Fill ``graph`` as MLMD's server does: nodes (ids only when dehydrated), events, memberships, and
    for the ``*_types`` fields every type of the store, system types included."""
    attributions: list[tuple[int, int]] = []
    associations: list[tuple[int, int]] = []
    if {"contexts", "attributions", "associations"} & fields:
        attributions, associations = memberships(connection, artifact_ids, execution_ids)
    context_ids = sorted({c for c, _ in attributions} | {c for c, _ in associations})
    for name, kind, ids in (
        ("artifacts", ARTIFACT, artifact_ids),
        ("executions", EXECUTION, execution_ids),
        ("contexts", CONTEXT, context_ids),
    ):
        if name in fields:
            getattr(graph, name).extend(nodes(connection, kind, ids, dehydrated=dehydrated))
    if "events" in fields:
        edges = list(events)
        by_id = {row.id: row for row in event_rows(connection, [edge.id for edge in edges])}
        graph.events.extend(event_message(by_id[edge.id]) for edge in edges if edge.id in by_id)
    if "attributions" in fields:
        graph.attributions.extend(pb.Attribution(context_id=c, artifact_id=a) for c, a in attributions)
    if "associations" in fields:
        graph.associations.extend(pb.Association(context_id=c, execution_id=e) for c, e in associations)
    for name, kind in (("artifact_types", ARTIFACT), ("execution_types", EXECUTION), ("context_types", CONTEXT)):
        if name in fields:
            infos = type_access.types_of_kind(connection, kind, namespace, include_system=True)
            getattr(graph, name).extend(info.to_message() for info in infos)
    return graph


def nodes(connection: Connection, kind: NodeKind, ids: Sequence[int], *, dehydrated: bool = False) -> list:
    """Node messages in the order of ``ids``: full (properties, type name) or ids only."""
    if dehydrated:
        return [kind.message(id=i) for i in ids]
    return node_access.read_nodes(connection, kind, ids)


def used_types(connection: Connection, kind: NodeKind, messages: Iterable) -> list:
    """The type messages of the given nodes, each once, in type id order."""
    ids = sorted({message.type_id for message in messages})
    return [info.to_message() for info in type_access.types_by_ids(connection, kind, ids)]
