"""LineageGraph messages from the node and edge ids a walk found: nodes, events, contexts and types."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection

from mlineage.metadata import nodes as node_access
from mlineage.metadata import types as type_access
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION, NodeKind
from mlineage.metadata.lineage_engine.reads import EventEdge, EventReader
from mlineage.metadata.types import TypeInfo
from mlineage.proto import metadata_store_pb2 as pb

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


@functools.lru_cache(maxsize=4096)
def _path_bytes(text: str) -> bytes:
    # Event paths repeat a lot ("examples", "model"): decode each distinct one once.
    path = pb.Event.Path()
    for step in json.loads(text):
        added = path.steps.add()
        if "index" in step:
            added.index = step["index"]
        elif "key" in step:
            added.key = step["key"]
    return path.SerializeToString()


def _fill_event(event: pb.Event, row: tuple) -> None:
    _, artifact_id, execution_id, event_type, path, milliseconds, system_metadata = row
    event.artifact_id = artifact_id
    event.execution_id = execution_id
    event.type = event_type
    if milliseconds is not None:
        event.milliseconds_since_epoch = milliseconds
    if path is not None:
        event.path.SetInParent()
        event.path.MergeFromString(_path_bytes(path))
    if system_metadata is not None:
        event.system_metadata.ParseFromString(bytes(system_metadata))


@functools.lru_cache(maxsize=16384)
def _graph_event_bytes(row: tuple) -> bytes:
    # A LineageGraph holding just this event, serialized: the event as one element of
    # LineageGraph.events on the wire (tag, length, message). The key is the whole row, so an
    # entry is never stale; lineage answers repeat their events, and one merge of the joined
    # bytes is several times cheaper than building each event (65 events: 56 -> 8 us).
    holder = pb.LineageGraph()
    _fill_event(holder.events.add(), row)
    return holder.SerializeToString()


def _wire_events(rows: Iterable[tuple]) -> bytes:
    parts = []
    for row in rows:
        try:
            parts.append(_graph_event_bytes(row))
        except TypeError:  # a row with an unhashable value (a memoryview): built, not cached
            parts.append(_graph_event_bytes.__wrapped__(row))
    return b"".join(parts)


def add_events(target, rows: Iterable[tuple]) -> None:
    """Append Event messages to a repeated Event field, or to a LineageGraph's events, from
    (id, artifact_id, execution_id, type, path, milliseconds, system_metadata) rows."""
    if isinstance(target, pb.LineageGraph):
        target.MergeFromString(_wire_events(rows))
        return
    holder = pb.LineageGraph.FromString(_wire_events(rows))
    target.extend(holder.events)


def memberships(
    connection: Connection, artifact_ids: Sequence[int], execution_ids: Sequence[int]
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(context_id, artifact_id) attributions and (context_id, execution_id) associations of the nodes."""
    reader = EventReader(connection)
    try:
        attributions = sorted(set(reader.memberships(ARTIFACT, artifact_ids))) if artifact_ids else []
        associations = sorted(set(reader.memberships(EXECUTION, execution_ids))) if execution_ids else []
    finally:
        reader.close()
    return attributions, associations


@functools.lru_cache(maxsize=65536)
def _graph_element(field: str, first: int, second: int = 0) -> bytes:
    # One small element of a LineageGraph field on the wire: a node with only its id, or an
    # attribution/association. Merging the joined bytes once is about three times cheaper than
    # adding each element to the message (120 elements: 52 -> 18 us).
    holder = pb.LineageGraph()
    if field == "attributions":
        holder.attributions.add(context_id=first, artifact_id=second)
    elif field == "associations":
        holder.associations.add(context_id=first, execution_id=second)
    else:
        getattr(holder, field).add(id=first)
    return holder.SerializeToString()


def add_memberships(
    graph: pb.LineageGraph, attributions: Iterable[tuple[int, int]], associations: Iterable[tuple[int, int]]
) -> None:
    """Append (context_id, artifact_id) attributions and (context_id, execution_id) associations."""
    element = _graph_element
    wire = b"".join([element("attributions", context_id, artifact_id) for context_id, artifact_id in attributions])
    wire += b"".join([element("associations", context_id, execution_id) for context_id, execution_id in associations])
    if wire:
        graph.MergeFromString(wire)


def add_edges(
    connection: Connection, target, edges: Iterable[EventEdge], rows: dict[int, tuple] | None = None
) -> None:
    """Append the full events of the walked edges, in the order given, to a repeated Event field or
    a LineageGraph's events (``rows``: the full rows by event id, when the walk already read them)."""
    edges = list(edges)
    if not edges:
        return
    by_id = rows
    if by_id is None:
        reader = EventReader(connection)
        try:
            by_id = {row[0]: row for row in reader.event_rows([edge.id for edge in edges])}
        finally:
            reader.close()
    add_events(target, (by_id[edge.id] for edge in edges if edge.id in by_id))


def edge_messages(connection: Connection, edges: Iterable[EventEdge]) -> list[pb.Event]:
    """Full event messages for the walked edges, in the order given."""
    holder = pb.LineageGraph()
    add_edges(connection, holder.events, edges)
    return list(holder.events)


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
    found_memberships: tuple[list[tuple[int, int]], list[tuple[int, int]]] | None = None,
    event_rows: dict[int, tuple] | None = None,
) -> pb.LineageGraph:
    """Fill ``graph`` as MLMD's server does: nodes (ids only when dehydrated), events, memberships, and
    for the ``*_types`` fields every type of the store, system types included. ``found_memberships``
    and ``event_rows``: what the walk already read (``Traversal.event_rows``, ``one_statement``)."""
    attributions: list[tuple[int, int]] = []
    associations: list[tuple[int, int]] = []
    if {"contexts", "attributions", "associations"} & fields:
        if found_memberships is not None:
            attributions, associations = found_memberships
        else:
            attributions, associations = memberships(connection, artifact_ids, execution_ids)
    context_ids = sorted({c for c, _ in attributions} | {c for c, _ in associations})
    for name, kind, ids in (
        ("artifacts", ARTIFACT, artifact_ids),
        ("executions", EXECUTION, execution_ids),
        ("contexts", CONTEXT, context_ids),
    ):
        if name in fields:
            if dehydrated:  # ids only, merged in place as their wire form (no messages built to be copied)
                if ids:
                    graph.MergeFromString(b"".join([_graph_element(name, node_id) for node_id in ids]))
            else:
                getattr(graph, name).extend(nodes(connection, kind, ids))
    if "events" in fields:
        add_edges(connection, graph, events, event_rows)
    add_memberships(
        graph,
        attributions if "attributions" in fields else (),
        associations if "associations" in fields else (),
    )
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


def used_types(connection: Connection, *groups: Iterable) -> list[list]:
    """For each group of node messages, the type messages its nodes use, each once, in type id order.

    One query for all groups: the types of a lineage answer are read together.
    """
    groups_ids = [sorted({message.type_id for message in group}) for group in groups]
    reader = EventReader(connection)
    try:
        rows, properties = reader.types(sorted({i for ids in groups_ids for i in ids}))
    finally:
        reader.close()
    infos = {
        row[0]: TypeInfo(
            id=row[0], kind=row[1], name=row[2], version=row[3], namespace=row[4], description=row[5],
            external_id=row[6], base_type=row[7],
            input_type=bytes(row[8]) if row[8] is not None else None,
            output_type=bytes(row[9]) if row[9] is not None else None,
        )  # fmt: skip
        for row in rows
    }
    for type_id, name, data_type in sorted(properties):
        infos[type_id].properties[name] = data_type
    return [[infos[i].to_message() for i in ids if i in infos] for ids in groups_ids]
