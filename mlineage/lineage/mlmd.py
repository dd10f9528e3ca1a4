"""MLMD's lineage RPCs (GetLineageSubgraph, the deprecated GetLineageGraph) on the traversal engine."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, and_, select

from mlineage.errors import InvalidArgumentError
from mlineage.lineage.traversal import MAX_HOPS_DEFAULT, Direction, events_between, traverse
from mlineage.metadata import nodes as node_access
from mlineage.metadata import types as type_access
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION, NodeKind
from mlineage.metadata.nodes import chunks
from mlineage.metadata.store import Store, _event_message
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.schema import tables as t

_Q = pb.LineageSubgraphQueryOptions
_DIRECTIONS = {
    _Q.DIRECTION_UNSPECIFIED: Direction.BOTH,
    _Q.BIDIRECTIONAL: Direction.BOTH,
    _Q.UPSTREAM: Direction.UPSTREAM,
    _Q.DOWNSTREAM: Direction.DOWNSTREAM,
}
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
MAX_STARTING_NODES = 1000


def _filter(kind: NodeKind, query: str):
    from mlineage.metadata.filter_query import compile_filter

    return compile_filter(kind.name, query)


def _matching(connection: Connection, kind: NodeKind, query: str, ids: Sequence[int] | None = None) -> set[int]:
    table = kind.table
    condition = _filter(kind, query)
    if ids is None:
        return set(connection.execute(select(table.c.id).where(condition)).scalars())
    found: set[int] = set()
    for part in chunks(list(ids)):
        found.update(connection.execute(select(table.c.id).where(and_(table.c.id.in_(part), condition))).scalars())
    return found


def _node_filter(artifact_query: str | None, execution_query: str | None):
    """A callable(connection, kind, ids) -> matching ids, or None if neither kind has a query."""
    if not artifact_query and not execution_query:
        return None

    def matches(connection: Connection, kind: NodeKind, ids: Sequence[int]) -> set[int]:
        query = artifact_query if kind is ARTIFACT else execution_query
        if not query:
            return set()
        return _matching(connection, kind, query, ids)

    return matches


def lineage_subgraph(store: Store, options: pb.LineageSubgraphQueryOptions, read_mask: Sequence[str] = (),
                     *, dehydrated: bool = False) -> pb.LineageGraph:
    """GetLineageSubgraph: walk from nodes matched by a filter, MLMD's options and answer."""
    which = options.WhichOneof("starting_nodes")
    if which is None:
        raise InvalidArgumentError("Missing arguments for listing starting nodes.")
    query = getattr(options, which).filter_query
    if not query:
        raise InvalidArgumentError("Cannot list starting nodes if `filter_query` is unspecified.")
    hops = options.max_num_hops if options.HasField("max_num_hops") else MAX_HOPS_DEFAULT
    if hops < 0:
        raise InvalidArgumentError(f"max_num_hops must not be negative, got {hops}")
    direction = _DIRECTIONS.get(options.direction)
    if direction is None:
        raise InvalidArgumentError(f"unknown direction {options.direction}")
    ending_artifacts = options.ending_artifacts if options.HasField("ending_artifacts") else None
    ending_executions = options.ending_executions if options.HasField("ending_executions") else None
    stop = _node_filter(
        ending_artifacts.filter_query if ending_artifacts else None,
        ending_executions.filter_query if ending_executions else None,
    )
    fields = _mask(read_mask)
    with store.reading() as connection:
        start_kind = ARTIFACT if which == "starting_artifacts" else EXECUTION
        start = sorted(_matching(connection, start_kind, query))
        if len(start) > MAX_STARTING_NODES:
            raise InvalidArgumentError(
                f"the starting filter matches {len(start)} nodes; at most {MAX_STARTING_NODES} are allowed"
            )
        result = traverse(
            connection,
            artifact_ids=start if start_kind is ARTIFACT else (),
            execution_ids=start if start_kind is EXECUTION else (),
            direction=direction,
            max_hops=hops,
            stop_at=stop,
        )
        artifact_ids = set(result.artifact_ids)
        execution_ids = set(result.execution_ids)
        # Ending nodes stay in the answer only when asked to (starting nodes always stay).
        for kind, ending, ids in ((ARTIFACT, ending_artifacts, artifact_ids), (EXECUTION, ending_executions, execution_ids)):
            if ending is not None and ending.filter_query and not ending.include_ending_nodes:
                candidates = [i for i in ids if not (kind is start_kind and i in start)]
                ids -= _matching(connection, kind, ending.filter_query, candidates)
        return _graph(connection, store, sorted(artifact_ids), sorted(execution_ids), fields, dehydrated=dehydrated)


def _mask(read_mask: Sequence[str]) -> set[str]:
    if not read_mask:
        return set(GRAPH_FIELDS)
    fields = set()
    for path in read_mask:
        top = path.split(".", 1)[0]
        if top not in GRAPH_FIELDS and top != "parent_contexts":
            raise InvalidArgumentError(f"read_mask path {path!r} is not a field of LineageGraph")
        fields.add(top)
    return fields


def _graph(
    connection: Connection,
    store: Store,
    artifact_ids: list[int],
    execution_ids: list[int],
    fields: set[str],
    *,
    dehydrated: bool,
    all_types: bool = True,
) -> pb.LineageGraph:
    graph = pb.LineageGraph()
    context_ids: set[int] = set()
    attribution_rows = []
    association_rows = []
    if {"contexts", "attributions", "associations"} & fields:
        for part in chunks(artifact_ids):
            attribution_rows.extend(
                connection.execute(
                    select(t.attributions.c.context_id, t.attributions.c.artifact_id).where(
                        t.attributions.c.artifact_id.in_(part)
                    )
                ).all()
            )
        for part in chunks(execution_ids):
            association_rows.extend(
                connection.execute(
                    select(t.associations.c.context_id, t.associations.c.execution_id).where(
                        t.associations.c.execution_id.in_(part)
                    )
                ).all()
            )
        context_ids = {row[0] for row in attribution_rows} | {row[0] for row in association_rows}
    for name, kind, ids in (
        ("artifacts", ARTIFACT, artifact_ids),
        ("executions", EXECUTION, execution_ids),
        ("contexts", CONTEXT, sorted(context_ids)),
    ):
        if name not in fields:
            continue
        target = getattr(graph, name)
        if dehydrated:
            target.extend(kind.message(id=i) for i in ids)
        else:
            target.extend(node_access.read_nodes(connection, kind, ids))
    if "events" in fields:
        graph.events.extend(_event_message(row) for row in events_between(connection, artifact_ids, execution_ids))
    if "attributions" in fields:
        graph.attributions.extend(
            pb.Attribution(context_id=c, artifact_id=a) for c, a in sorted(set(attribution_rows))
        )
    if "associations" in fields:
        graph.associations.extend(
            pb.Association(context_id=c, execution_id=e) for c, e in sorted(set(association_rows))
        )
    for name, kind in (("artifact_types", ARTIFACT), ("execution_types", EXECUTION), ("context_types", CONTEXT)):
        if name in fields:
            # MLMD answers the type fields of a lineage query with every type in the store.
            infos = type_access.types_of_kind(connection, kind, store.namespace, include_system=True)
            getattr(graph, name).extend(info.to_message() for info in infos)
    return graph


def lineage_graph(store: Store, options: pb.LineageGraphQueryOptions) -> pb.LineageGraph:
    """The deprecated GetLineageGraph: a bounded closure around artifacts matched by list options."""
    if options.WhichOneof("query_nodes") is None:
        raise InvalidArgumentError("LineageGraphQueryOptions needs artifacts_options to pick the query nodes")
    seeds, _ = store.list_nodes("artifact", options.artifacts_options)
    stop = options.stop_conditions
    hops = stop.max_num_hops if stop.HasField("max_num_hops") else MAX_HOPS_DEFAULT
    if hops < 0:
        raise InvalidArgumentError(f"max_num_hops must not be negative, got {hops}")
    keep = None
    if stop.boundary_artifacts or stop.boundary_executions:
        artifact_query, execution_query = stop.boundary_artifacts, stop.boundary_executions

        def keep(connection: Connection, kind: NodeKind, ids: Sequence[int]) -> set[int]:
            query = artifact_query if kind is ARTIFACT else execution_query
            return _matching(connection, kind, query, ids) if query else set(ids)

    max_nodes = options.max_node_size if options.max_node_size > 0 else None
    with store.reading() as connection:
        result = traverse(
            connection,
            artifact_ids=[a.id for a in seeds],
            direction=Direction.BOTH,
            max_hops=hops,
            keep=keep,
            max_nodes=max_nodes,
        )
        artifact_ids = sorted(result.artifact_ids)
        execution_ids = sorted(result.execution_ids)
        graph = _graph(
            connection,
            store,
            artifact_ids,
            execution_ids,
            set(GRAPH_FIELDS),
            dehydrated=False,
        )
    return graph
