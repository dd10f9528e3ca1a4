"""One page of a lineage walk answered whole: the walk, its hydrated graph, and the tombstones it ran through.

What ``mlineage.lineage.lineage`` asks of the store (``Store.lineage_page``), run in one
read transaction: the starting nodes are checked, the walk runs through deleted nodes
where there are any (as of the moment read, for a view as of a moment), and the graph is
hydrated (nodes in walk order, events, memberships, the types used).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlineage.errors import NotFoundError
from mlineage.metadata import history
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION
from mlineage.metadata.lineage_engine.graph import add_edges, add_memberships, memberships, nodes, used_types
from mlineage.metadata.lineage_engine.traversal import Direction, Ending, NodeTest, Traversal, traverse
from mlineage.proto import metadata_store_pb2 as pb


@dataclass
class LineagePage:
    """A walk's page: the traversal (hops, truncation, cursor), its graph and its tombstones."""

    walk: Traversal
    graph: pb.LineageGraph
    tombstones: list[history.Tombstone] = field(default_factory=list)


def _missing(connection: Any, artifact_ids: Sequence[int], execution_ids: Sequence[int]) -> list[str]:
    missing: list[str] = []
    for kind, ids in ((ARTIFACT, artifact_ids), (EXECUTION, execution_ids)):
        if ids:
            found = {node.id for node in nodes(connection, kind, list(ids))}
            missing += [f"{kind.name} {i}" for i in ids if i not in found]
    return missing


def answer_graph(connection: Any, walk: Traversal, *, with_contexts: bool = True) -> pb.LineageGraph:
    """A hydrated LineageGraph of one walk page: nodes in walk order, events, memberships, used types."""
    graph = pb.LineageGraph()
    artifact_ids, execution_ids = list(walk.artifacts), list(walk.executions)
    graph.artifacts.extend(nodes(connection, ARTIFACT, artifact_ids))
    graph.executions.extend(nodes(connection, EXECUTION, execution_ids))
    add_edges(connection, graph.events, walk.events)
    if with_contexts:
        attributions, associations = memberships(connection, artifact_ids, execution_ids)
        context_ids = sorted({c for c, _ in attributions} | {c for c, _ in associations})
        graph.contexts.extend(nodes(connection, CONTEXT, context_ids))
        add_memberships(graph, attributions, associations)
    artifact_types, execution_types, context_types = used_types(
        connection, graph.artifacts, graph.executions, graph.contexts
    )
    graph.artifact_types.extend(artifact_types)
    graph.execution_types.extend(execution_types)
    graph.context_types.extend(context_types)
    return graph


def lineage_page(
    connection: Any,
    *,
    artifact_ids: Sequence[int],
    execution_ids: Sequence[int],
    direction: Direction,
    max_hops: int,
    ending: Ending,
    keep: NodeTest | None,
    max_nodes: int | None,
    cursor: str | None,
    bound: Sequence[Any],
    with_contexts: bool,
) -> LineagePage:
    """Walk and answer one page (NOT_FOUND for a starting node that does not exist)."""
    missing = _missing(connection, artifact_ids, execution_ids)
    if missing:
        raise NotFoundError(f"no such nodes: {', '.join(missing)}")
    # Where nodes were deleted (by the moment read), the walk runs through them.
    through_deleted = history.any_deleted_edges(connection)
    with history.walking_deleted_edges() if through_deleted else contextlib.nullcontext():
        walk = traverse(
            connection,
            artifact_ids=artifact_ids,
            execution_ids=execution_ids,
            direction=direction,
            max_hops=max_hops,
            ending=ending,
            keep=keep,
            max_nodes=max_nodes,
            cursor=cursor,
            bound=bound,
        )
        graph = answer_graph(connection, walk, with_contexts=with_contexts)
    tombstones: list[history.Tombstone] = []
    if through_deleted:
        live = {a.id for a in graph.artifacts}, {e.id for e in graph.executions}
        for kind, walked, present in (
            (ARTIFACT, walk.artifacts, live[0]),
            (EXECUTION, walk.executions, live[1]),
        ):
            tombstones += history.tombstones(connection, kind, [i for i in walked if i not in present])
    return LineagePage(walk=walk, graph=graph, tombstones=tombstones)
