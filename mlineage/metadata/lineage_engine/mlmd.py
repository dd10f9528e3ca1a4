"""MLMD's lineage RPCs (GetLineageSubgraph, the deprecated GetLineageGraph) on the traversal engine.

The answers are MLMD's (ml-metadata 1.17.1), checked node for node and edge
for edge against MLMD in-process by tests/test_lineage_mlmd.py:

* starting nodes: the first 101 matches of the filter, oldest first (MLMD
  caps its listing at 100 and reads one more);
* ``max_num_hops``: unset means 100, larger values are cut to 100;
* ending nodes: an ending filter that is set but empty matches every node;
  starting nodes that match are dropped (unless included) and not expanded;
* the server answers nodes with ids only and every type of the store; the
  Python client (``hydrated_lineage_subgraph``) then reads the nodes and only
  the types they use, quirks included (a mask of only ``*_types`` paths is an
  empty mask to the server).

GetLineageGraph is UNIMPLEMENTED in ml-metadata 1.17.1's server; it is
answered here as MLMD's ``QueryLineageGraph`` (its last implementation)
answered it: a bidirectional walk of at most 20 hops from the artifacts the
list options select, boundary filters that drop nodes and prune behind
them, and ``max_node_size`` (default 20, <= 0 unlimited) nodes in all, the
query nodes always included. Where MLMD dropped surplus nodes of the last
layer at random, this keeps the lowest ids.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Connection, bindparam, select

from mlineage.errors import InvalidArgumentError, NotFoundError
from mlineage.metadata import executor
from mlineage.metadata import types as type_access
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION, NodeKind
from mlineage.metadata.lineage_engine import one_statement
from mlineage.metadata.lineage_engine.graph import (
    GRAPH_FIELDS,
    add_edges,
    add_memberships,
    fill_graph,
    memberships,
    nodes,
    used_types,
)
from mlineage.metadata.lineage_engine.traversal import (
    MAX_HOPS_DEFAULT,
    Direction,
    Ending,
    Traversal,
    filter_test,
    plain_walk,
    traverse,
)
from mlineage.proto import metadata_store_pb2 as pb

if TYPE_CHECKING:  # the store calls this module; it never imports the store
    from mlineage.metadata.store import Store

_Q = pb.LineageSubgraphQueryOptions
DIRECTIONS = {
    _Q.DIRECTION_UNSPECIFIED: Direction.BOTH,
    _Q.BIDIRECTIONAL: Direction.BOTH,
    _Q.UPSTREAM: Direction.UPSTREAM,
    _Q.DOWNSTREAM: Direction.DOWNSTREAM,
}
#: MLMD lists at most 100 starting nodes and reads one more to know whether more exist; it keeps that one.
MAX_STARTING_NODES = 101
_MEMBERSHIP_FIELDS = frozenset({"contexts", "attributions", "associations"})
#: GetLineageGraph's ceiling on max_num_hops (MLMD's kMaxDistance).
LINEAGE_GRAPH_MAX_HOPS = 20


@functools.lru_cache(maxsize=256)
def _filter(kind_name: str, query: str):
    # Parsing is most of a small query's cost; the compiled expression is immutable and reusable.
    from mlineage.metadata.filter_query import compile_filter

    return compile_filter(kind_name, query)


def _starting_select(kind: NodeKind, query: str):
    table = kind.table

    def build(dialect_name: str):
        return (
            select(table.c.id)
            .where(table.c.namespace == bindparam("namespace"), _filter(kind.name, query))
            .order_by(table.c.create_time_since_epoch, table.c.id)
            .limit(MAX_STARTING_NODES)
        )

    return build


def _starting_ids(connection: Connection, kind: NodeKind, query: str, namespace: str) -> list[int]:
    # Compiled once per filter text (its literals are part of the text) and run on the raw cursor.
    rows = executor.fetch(
        connection, ("lineage_start", kind.name, query), _starting_select(kind, query), {"namespace": namespace}
    )
    return [row[0] for row in rows]


def _starting_query(connection: Connection, kind: NodeKind, query: str, namespace: str) -> one_statement.StartingQuery:
    sql, params = executor.named_statement(connection, ("lineage_start", kind.name, query), _starting_select(kind, query))
    return one_statement.StartingQuery(kind=kind, sql=sql, params={**params, "namespace": namespace})


def _ending(options: pb.LineageSubgraphQueryOptions) -> Ending:
    tests = {}
    include = {}
    for kind, field in ((ARTIFACT, "ending_artifacts"), (EXECUTION, "ending_executions")):
        ending = getattr(options, field)
        has_filter = options.HasField(field) and ending.HasField("filter_query")
        tests[kind] = filter_test({kind: ending.filter_query}) if has_filter else None
        include[kind] = ending.include_ending_nodes
    return Ending(
        artifacts=tests[ARTIFACT],
        executions=tests[EXECUTION],
        include_artifacts=include[ARTIFACT],
        include_executions=include[EXECUTION],
    )


def subgraph_walk(
    connection: Connection,
    options: pb.LineageSubgraphQueryOptions,
    namespace: str,
    *,
    with_memberships: bool = False,
    with_snapshot: bool = False,
) -> Traversal:
    """The walk GetLineageSubgraph asks for, with MLMD's checks and error messages.

    Without ending nodes the walk is ``plain_walk``, or, on a database where every hop would be a
    round trip, one statement (``one_statement``) that also reads the memberships when asked."""
    which = options.WhichOneof("starting_nodes")
    if which is None:
        raise InvalidArgumentError("Missing arguments for listing starting nodes.")
    query = getattr(options, which).filter_query
    if not query:
        raise InvalidArgumentError("Cannot list starting nodes if `filter_query` is unspecified.")
    hops = MAX_HOPS_DEFAULT
    if options.HasField("max_num_hops"):
        if options.max_num_hops < 0:
            raise InvalidArgumentError(f"max_num_hops cannot be negative: max_num_hops = {options.max_num_hops}")
        hops = min(options.max_num_hops, MAX_HOPS_DEFAULT)
    direction = DIRECTIONS.get(options.direction, Direction.BOTH)
    start_kind = ARTIFACT if which == "starting_artifacts" else EXECUTION
    ending = _ending(options)
    plain = ending.artifacts is None and ending.executions is None
    if plain and one_statement.supported(connection):
        # The starting nodes' query, the walk and its memberships: one statement, one round trip.
        walk = one_statement.walk(
            connection,
            start=_starting_query(connection, start_kind, query, namespace),
            direction=direction,
            max_hops=hops,
            with_memberships=with_memberships,
            with_snapshot=with_snapshot,
        )
        if not walk.started:
            raise NotFoundError("Cannot find qualified nodes to start the traversal.")
        return walk
    start = _starting_ids(connection, start_kind, query, namespace)
    if not start:
        raise NotFoundError("Cannot find qualified nodes to start the traversal.")
    if plain:
        starting = {"artifact_ids": start} if start_kind is ARTIFACT else {"execution_ids": start}
        return plain_walk(connection, **starting, direction=direction, max_hops=hops)
    return traverse(
        connection,
        artifact_ids=start if start_kind is ARTIFACT else (),
        execution_ids=start if start_kind is EXECUTION else (),
        direction=direction,
        max_hops=hops,
        ending=ending,
    )


#: The LineageGraph fields that hold types (the server answers every type of the store in them).
TYPE_FIELDS = frozenset({"artifact_types", "execution_types", "context_types"})


def mask_fields(read_mask: Sequence[str]) -> set[str]:
    """The LineageGraph fields a GetLineageSubgraph read mask asks the server for."""
    return _mask(read_mask)


def _mask(read_mask: Sequence[str]) -> set[str]:
    # As MLMD: an empty mask is every field; a path is a top-level field name or nothing.
    if not read_mask:
        return set(GRAPH_FIELDS)
    return {path for path in read_mask if path in GRAPH_FIELDS}


def lineage_subgraph(
    store: Store,
    options: pb.LineageSubgraphQueryOptions,
    read_mask: Sequence[str] = (),
    *,
    dehydrated: bool = False,
    into: pb.LineageGraph | None = None,
    with_types: bool = True,
    read_at: list[str] | None = None,
) -> pb.LineageGraph:
    """GetLineageSubgraph as MLMD's server answers it (``dehydrated=True``: nodes are ids only), filled
    into ``into`` when given (e.g. a response's field, so that the answer is not copied).
    ``with_types=False`` leaves out the ``*_types`` fields (every type of the store), for a caller
    that answers them from what it already holds (the gRPC service's by-id cache). ``read_at``: when
    the answer was read in one statement on the primary (PostgreSQL), the snapshot it read in is
    appended, as ``Store.change_token()`` reads it (the caller is spared a round trip for it)."""
    fields = _mask(read_mask)
    if not with_types:
        fields -= TYPE_FIELDS
    with store.reading(replica=True) as connection:
        # Only a dehydrated answer is the statement's alone (full nodes take reads of their own).
        snapshot = read_at is not None and dehydrated and store.reads_primary(connection)
        memberships = bool(_MEMBERSHIP_FIELDS & fields)
        walk = subgraph_walk(connection, options, store.namespace, with_memberships=memberships, with_snapshot=snapshot)
        found_memberships = None
        if isinstance(walk, one_statement.StatementWalk):
            found_memberships = (walk.attributions, walk.associations)
            if read_at is not None and walk.snapshot is not None:
                read_at.append(walk.snapshot)
        return fill_graph(
            connection,
            pb.LineageGraph() if into is None else into,
            artifact_ids=list(walk.artifacts),
            execution_ids=list(walk.executions),
            events=walk.events,
            fields=fields,
            dehydrated=dehydrated,
            namespace=store.namespace,
            found_memberships=found_memberships,
            event_rows=walk.event_rows,
        )


def hydrated_lineage_subgraph(
    store: Store, options: pb.LineageSubgraphQueryOptions, field_mask_paths: Sequence[str] | None = None
) -> pb.LineageGraph:
    """``MetadataStore.get_lineage_subgraph`` of MLMD's Python client: the server's answer, then full
    nodes in id order and only the types those nodes use, in one read transaction."""
    wanted = set(field_mask_paths) if field_mask_paths else set(GRAPH_FIELDS) | {"parent_contexts"}
    # The client sends the mask without its *_types paths; an empty mask means every field to the server.
    server_fields = _mask([path for path in wanted if not path.endswith("_types")])
    graph = pb.LineageGraph()
    with store.reading(replica=True) as connection:
        needs_memberships = bool(_MEMBERSHIP_FIELDS & server_fields)
        walk = subgraph_walk(connection, options, store.namespace, with_memberships=needs_memberships)
        artifact_ids, execution_ids = list(walk.artifacts), list(walk.executions)
        attributions: list[tuple[int, int]] = []
        associations: list[tuple[int, int]] = []
        if needs_memberships:
            if isinstance(walk, one_statement.StatementWalk):
                attributions, associations = walk.attributions, walk.associations
            else:
                attributions, associations = memberships(connection, artifact_ids, execution_ids)
        # What the server answered, by kind; the client then reads those nodes by id.
        answered = {
            "artifacts": sorted(artifact_ids) if "artifacts" in server_fields else [],
            "executions": sorted(execution_ids) if "executions" in server_fields else [],
            "contexts": sorted({c for c, _ in attributions} | {c for c, _ in associations})
            if "contexts" in server_fields
            else [],
        }
        found = {}
        for name, kind, types_name in (
            ("artifacts", ARTIFACT, "artifact_types"),
            ("executions", EXECUTION, "execution_types"),
            ("contexts", CONTEXT, "context_types"),
        ):
            if name in wanted or types_name in wanted:
                found[types_name] = nodes(connection, kind, answered[name])
                if name in wanted:
                    getattr(graph, name).extend(found[types_name])
        typed = [name for name in ("artifact_types", "execution_types", "context_types") if name in wanted]
        for name, types in zip(typed, used_types(connection, *(found[name] for name in typed)), strict=True):
            getattr(graph, name).extend(types)
        if "events" in wanted:
            add_edges(connection, graph, walk.events, walk.event_rows)
    add_memberships(
        graph,
        attributions if "attributions" in wanted else (),
        associations if "associations" in wanted else (),
    )
    return graph


def lineage_graph(store: Store, options: pb.LineageGraphQueryOptions) -> pb.LineageGraph:
    """The deprecated GetLineageGraph, as MLMD's QueryLineageGraph answered it (see the module notes)."""
    if options.WhichOneof("query_nodes") is None:
        raise InvalidArgumentError("Missing query_nodes conditions")
    stop = options.stop_conditions
    hops = LINEAGE_GRAPH_MAX_HOPS
    if stop.HasField("max_num_hops"):
        if stop.max_num_hops < 0:
            raise InvalidArgumentError(f"max_num_hops cannot be negative: max_num_hops ={stop.max_num_hops}")
        hops = min(stop.max_num_hops, LINEAGE_GRAPH_MAX_HOPS)
    seeds, _ = store.list_nodes(ARTIFACT.name, options.artifacts_options)
    if not seeds:
        raise NotFoundError("The query_nodes condition does not match any nodes to do traversal.")
    keep = filter_test(
        {ARTIFACT: stop.boundary_artifacts or None, EXECUTION: stop.boundary_executions or None},
        missing_passes=True,
    )
    max_nodes = options.max_node_size if options.max_node_size > 0 else None
    graph = pb.LineageGraph()
    with store.reading(replica=True) as connection:
        walk = traverse(
            connection,
            artifact_ids=[seed.id for seed in seeds],
            direction=Direction.BOTH,
            max_hops=hops,
            keep=keep,
            max_nodes=max_nodes,
        )
        seed_ids = {seed.id for seed in seeds}
        graph.artifacts.extend(seeds)
        graph.artifacts.extend(nodes(connection, ARTIFACT, [i for i in walk.artifacts if i not in seed_ids]))
        graph.executions.extend(nodes(connection, EXECUTION, list(walk.executions)))
        fill_graph(
            connection,
            graph,
            artifact_ids=[],
            execution_ids=[],
            events=walk.events,
            fields={"events"},
            dehydrated=True,
            namespace=store.namespace,
        )
        # MLMD leaves its seeded mlmd.* types out of the node types, and returns every context type.
        for name, kind, system in (
            ("artifact_types", ARTIFACT, False),
            ("execution_types", EXECUTION, False),
            ("context_types", CONTEXT, True),
        ):
            infos = type_access.types_of_kind(connection, kind, store.namespace, include_system=system)
            getattr(graph, name).extend(info.to_message() for info in infos)
    return graph
