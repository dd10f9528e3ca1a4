"""Lineage over HTTP: GET /api/v1/lineage (the lineage engine's walk, its options as query parameters,
JSON or DOT, GraphML, Mermaid, node-link) and /api/v1/lineage_subgraph (MLMD's subgraph query)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mlineage.api.rest import protojson
from mlineage.api.rest.history import ReadStore
from mlineage.api.rest.io import JSON, Documentation, read_message, respond, respond_json
from mlineage.api.rest.params import MAX_ID, MAX_QUERY_TEXT, mask_paths
from mlineage.errors import InvalidArgumentError
from mlineage.metadata.kinds import ARTIFACT, EXECUTION
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metadata_store_service_pb2 as svc

if TYPE_CHECKING:
    from mlineage.lineage.query import Lineage

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


IdList = Annotated[list[Annotated[int, Query(ge=0, le=MAX_ID)]] | None, Query(max_length=1000)]
NameList = Annotated[list[Annotated[str, Query(max_length=255)]] | None, Query(max_length=100)]
FORMATS = {
    "json": JSON,
    "node-link": JSON,
    "dot": "text/vnd.graphviz",
    "graphml": "application/graphml+xml",
    "mermaid": "text/plain",
}
MAX_NODES = 100_000

# The JSON answer of GET /api/v1/lineage: the one model's LineageGraph, plus how the walk went.
LINEAGE_SCHEMAS = {
    "LineageAnswer": {
        "type": "object",
        "properties": {
            "graph": {"$ref": "#/components/schemas/LineageGraph"},
            "starting": {"type": "array", "items": {"$ref": "#/components/schemas/LineageNode"}},
            "hops": {
                "type": "array",
                "description": "each node of the graph with the hop that reached it (0: a starting node)",
                "items": {"$ref": "#/components/schemas/LineageNode"},
            },
            "truncated": {"type": "boolean", "description": "max_nodes cut the walk: pass `cursor` for more"},
            "cursor": {"type": "string", "description": "the next page's cursor (empty when complete)"},
        },
        "required": ["graph", "starting", "hops", "truncated", "cursor"],
        "additionalProperties": False,
    },
    "LineageNode": {
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": [ARTIFACT.name, EXECUTION.name]},
            "id": {"type": "string", "pattern": "^[0-9]+$"},
            "hop": {"type": "integer", "minimum": 0},
        },
        "required": ["kind", "id"],
        "additionalProperties": False,
    },
    "NodeLinkGraph": {
        "type": "object",
        "description": "networkx node-link data of the lineage graph (`nodes` and `edges`)",
        "properties": {"nodes": {"type": "array"}, "edges": {"type": "array"}},
        "required": ["nodes", "edges"],
    },
}


def _walk(store: Store, options: dict) -> Lineage:
    from mlineage.lineage.query import lineage

    return lineage(store, **options)


def router(store: Store, docs: Documentation) -> APIRouter:
    routes = APIRouter(prefix="/api/v1")

    async def lineage_walk(
        reader: ReadStore,
        artifact_id: Annotated[IdList, Query(description="artifacts to start from (repeat)")] = None,
        execution_id: Annotated[IdList, Query(description="executions to start from (repeat)")] = None,
        direction: Annotated[
            Literal["up", "upstream", "down", "downstream", "both", "bidirectional"],
            Query(description="inputs (up), outputs (down) or both"),
        ] = "both",
        max_hops: Annotated[int, Query(ge=0, le=100, description="hops to walk (artifact→execution is one)")] = 100,
        ending_artifacts: Annotated[
            str | None, Query(max_length=MAX_QUERY_TEXT, description="filter query: artifacts where the walk stops")
        ] = None,
        ending_executions: Annotated[
            str | None, Query(max_length=MAX_QUERY_TEXT, description="filter query: executions where the walk stops")
        ] = None,
        include_ending: Annotated[bool, Query(description="keep the ending nodes in the answer")] = True,
        artifact_type: Annotated[NameList, Query(description="keep only artifacts of these types (repeat)")] = None,
        execution_type: Annotated[NameList, Query(description="keep only executions of these types (repeat)")] = None,
        artifact_state: Annotated[NameList, Query(description="keep only artifacts in these states, e.g. LIVE")] = None,
        execution_state: Annotated[
            NameList, Query(description="keep only executions in these states, e.g. COMPLETE")
        ] = None,
        max_nodes: Annotated[
            int | None, Query(ge=1, le=MAX_NODES, description="cap on nodes per page; the answer says `truncated`")
        ] = None,
        cursor: Annotated[str | None, Query(max_length=MAX_QUERY_TEXT, description="`cursor` of the previous page")] = None,
        contexts: Annotated[bool, Query(description="include the contexts of the nodes")] = True,
        format: Annotated[
            Literal["json", "node-link", "dot", "graphml", "mermaid"], Query(description="the answer's form")
        ] = "json",
    ):
        if not artifact_id and not execution_id:
            raise InvalidArgumentError("give at least one artifact_id or execution_id to start from")
        options = {
            "artifact_ids": artifact_id or (),
            "execution_ids": execution_id or (),
            "direction": direction,
            "max_hops": max_hops,
            "ending_artifacts": ending_artifacts,
            "ending_executions": ending_executions,
            "include_ending": include_ending,
            "artifact_types": artifact_type,
            "execution_types": execution_type,
            "artifact_states": artifact_state,
            "execution_states": execution_state,
            "max_nodes": max_nodes,
            "cursor": cursor or None,
            "with_contexts": contexts,
        }
        answer = await run_in_threadpool(_walk, reader, options)
        if format == "json":
            return respond_json(
                {
                    "graph": protojson.to_dict(answer.graph),
                    "starting": [{"kind": kind, "id": str(i)} for kind, i in answer.starting],
                    "hops": [{"kind": kind, "id": str(i), "hop": hop} for (kind, i), hop in answer.hops.items()],
                    "truncated": answer.truncated,
                    "cursor": answer.cursor or "",
                    # Deleted nodes the walk ran through (the events to them are in the graph).
                    "tombstones": [
                        {"kind": t.kind, "id": str(t.id), "type": t.type_name, "name": t.name,
                         "deleted_ms": t.deleted_ms}
                        for t in answer.tombstones
                    ],  # fmt: skip
                }
            )
        from mlineage.lineage import export

        graph = export.to_networkx(answer, contexts=contexts)
        if format == "node-link":
            return respond_json(export.to_node_link(graph))
        text = {"dot": export.to_dot, "graphml": export.to_graphml, "mermaid": export.to_mermaid}[format](graph)
        return Response(text, media_type=FORMATS[format])

    lineage_walk.__doc__ = (
        "Walk the lineage from the given artifacts and executions: upstream (what they came from), downstream "
        "(what they fed) or both, up to `max_hops`, stopping at ending nodes, keeping only the given types and "
        "states, at most `max_nodes` per page (then `truncated` and a `cursor` for the next page). JSON "
        "(the LineageGraph with each node's hop) or a drawing: DOT, GraphML, Mermaid, node-link JSON."
    )
    text_schema = {"schema": {"type": "string"}}
    routes.add_api_route(
        "/lineage", lineage_walk, methods=["GET"], tags=["lineage"], summary="Walk the lineage of nodes",
        responses={
            200: {
                "description": "the lineage, in the asked format",
                "content": {
                    JSON: {"schema": {"anyOf": [docs.schema("LineageAnswer"), docs.schema("NodeLinkGraph")]}},
                    "text/vnd.graphviz": text_schema,
                    "application/graphml+xml": text_schema,
                    "text/plain": text_schema,
                },
            }
        },
    )
    docs.messages.add([pb.LineageGraph.DESCRIPTOR])

    async def lineage_subgraph(
        reader: ReadStore,
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
        graph = await run_in_threadpool(reader.get_lineage_subgraph, options, paths or None)
        return respond(graph)

    lineage_subgraph.__doc__ = (
        "The lineage around the nodes a filter picks: artifacts, executions, the events between them, their "
        "contexts and the types they use (MLMD's get_lineage_subgraph, with full nodes)."
    )
    routes.add_api_route(
        "/lineage_subgraph", lineage_subgraph, methods=["GET"], tags=["lineage"], summary="Query a lineage subgraph",
        **docs.documented(response=pb.LineageGraph),
    )

    async def query(request: Request, reader: ReadStore):
        body = await read_message(request, svc.GetLineageSubgraphRequest)
        graph = await run_in_threadpool(
            reader.get_lineage_subgraph, body.lineage_subgraph_query_options, list(body.read_mask.paths) or None
        )
        return respond(svc.GetLineageSubgraphResponse(lineage_subgraph=graph))

    query.__doc__ = "The same query with MLMD's request message as the body."
    routes.add_api_route(
        "/lineage_subgraph:query", query, methods=["POST"], tags=["lineage"],
        summary="Query a lineage subgraph (message body)",
        **docs.documented(body=svc.GetLineageSubgraphRequest, response=svc.GetLineageSubgraphResponse),
    )
    return routes
