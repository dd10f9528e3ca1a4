"""/api/v1/lineage_subgraph: the lineage engine's subgraph query, by query parameters or by message."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from mlineage.api.rest.io import Documentation, read_message, respond
from mlineage.api.rest.params import MAX_QUERY_TEXT, mask_paths
from mlineage.errors import InvalidArgumentError
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metadata_store_service_pb2 as svc

_Q = pb.LineageSubgraphQueryOptions
DIRECTIONS = {
    "UPSTREAM": _Q.UPSTREAM,
    "DOWNSTREAM": _Q.DOWNSTREAM,
    "BIDIRECTIONAL": _Q.BIDIRECTIONAL,
    "upstream": _Q.UPSTREAM,
    "downstream": _Q.DOWNSTREAM,
    "both": _Q.BIDIRECTIONAL,
}
GRAPH_FIELDS = [field.name for field in pb.LineageGraph.DESCRIPTOR.fields]

def query_options(
    starting_artifacts: str | None,
    starting_executions: str | None,
    max_num_hops: int | None,
    direction: str,
    ending_artifacts: str | None,
    ending_executions: str | None,
    include_ending_nodes: bool,
) -> pb.LineageSubgraphQueryOptions:
    if bool(starting_artifacts) == bool(starting_executions):
        raise InvalidArgumentError("give exactly one of starting_artifacts and starting_executions (a filter query)")
    options = pb.LineageSubgraphQueryOptions(direction=DIRECTIONS[direction])
    if starting_artifacts:
        options.starting_artifacts.filter_query = starting_artifacts
    else:
        options.starting_executions.filter_query = starting_executions or ""
    if max_num_hops is not None:
        options.max_num_hops = max_num_hops
    if ending_artifacts:
        options.ending_artifacts.filter_query = ending_artifacts
        options.ending_artifacts.include_ending_nodes = include_ending_nodes
    if ending_executions:
        options.ending_executions.filter_query = ending_executions
        options.ending_executions.include_ending_nodes = include_ending_nodes
    return options


def router(store: Store, docs: Documentation) -> APIRouter:
    routes = APIRouter(prefix="/api/v1")

    async def lineage_subgraph(
        starting_artifacts: Annotated[
            str | None, Query(max_length=MAX_QUERY_TEXT, description="filter query picking the artifacts to start from")
        ] = None,
        starting_executions: Annotated[
            str | None, Query(max_length=MAX_QUERY_TEXT, description="filter query picking the executions to start from")
        ] = None,
        max_num_hops: Annotated[
            int | None, Query(ge=0, le=100, description="hops from the starting nodes (artifact→execution is one); 100 if unset")
        ] = None,
        direction: Annotated[
            Literal["UPSTREAM", "DOWNSTREAM", "BIDIRECTIONAL", "upstream", "downstream", "both"],
            Query(description="which way to walk: inputs (upstream), outputs (downstream) or both"),
        ] = "BIDIRECTIONAL",
        ending_artifacts: Annotated[
            str | None, Query(max_length=MAX_QUERY_TEXT, description="filter query: artifacts where the walk stops")
        ] = None,
        ending_executions: Annotated[
            str | None, Query(max_length=MAX_QUERY_TEXT, description="filter query: executions where the walk stops")
        ] = None,
        include_ending_nodes: Annotated[bool, Query(description="return the ending nodes too")] = False,
        read_mask: Annotated[
            list[str] | None,
            Query(max_length=20, description=f"LineageGraph fields to return (default all): {', '.join(GRAPH_FIELDS)}"),
        ] = None,
    ):
        options = query_options(
            starting_artifacts, starting_executions, max_num_hops, direction, ending_artifacts, ending_executions,
            include_ending_nodes,
        )
        paths = mask_paths(read_mask)
        unknown = [path for path in paths if path not in GRAPH_FIELDS]
        if unknown:
            raise InvalidArgumentError(f"read_mask: {', '.join(unknown)} not a field of LineageGraph")
        graph = await run_in_threadpool(store.get_lineage_subgraph, options, paths or None)
        return respond(graph)

    lineage_subgraph.__doc__ = (
        "The lineage around the nodes a filter picks: artifacts, executions, the events between them, their "
        "contexts and the types they use (MLMD's get_lineage_subgraph, with full nodes)."
    )
    routes.add_api_route(
        "/lineage_subgraph", lineage_subgraph, methods=["GET"], tags=["lineage"], summary="Query a lineage subgraph",
        **docs.documented(response=pb.LineageGraph),
    )

    async def query(request: Request):
        body = await read_message(request, svc.GetLineageSubgraphRequest)
        graph = await run_in_threadpool(
            store.get_lineage_subgraph, body.lineage_subgraph_query_options, list(body.read_mask.paths) or None
        )
        return respond(svc.GetLineageSubgraphResponse(lineage_subgraph=graph))

    query.__doc__ = "The same query with MLMD's request message as the body."
    routes.add_api_route(
        "/lineage_subgraph:query", query, methods=["POST"], tags=["lineage"],
        summary="Query a lineage subgraph (message body)",
        **docs.documented(body=svc.GetLineageSubgraphRequest, response=svc.GetLineageSubgraphResponse),
    )
    return routes
