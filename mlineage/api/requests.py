"""MLMD's composite write requests decoded into Store calls, shared by the gRPC and REST adapters."""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.message import Message

from mlineage.metadata.kinds import KIND_BY_MESSAGE, NodeKind
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_service_pb2 as svc


def _nodes_of(request: Message) -> Iterable[Message]:
    """The artifacts, executions and contexts a write request (or a single node) carries."""
    if type(request) in KIND_BY_MESSAGE:
        yield request
        return
    if isinstance(request, svc.PutExecutionRequest):
        if request.HasField("execution"):
            yield request.execution
        yield from (pair.artifact for pair in request.artifact_event_pairs if pair.HasField("artifact"))
        yield from request.contexts
        return
    for field in ("artifacts", "executions", "contexts"):
        if field in request.DESCRIPTOR.fields_by_name:
            yield from getattr(request, field)


def resolve_type_names(store: Store, request: Message) -> None:
    """Give every node of ``request`` that names its type (``type``) but has no ``type_id`` that type's id.

    REST's convenience, the same on every endpoint that writes nodes: MLMD's
    ``type`` is output-only, so the gRPC service never calls this. A name that
    names no type of the node's kind is NOT_FOUND.
    """
    found: dict[tuple[NodeKind, str], int] = {}
    for node in _nodes_of(request):
        if node.type_id or not node.type:
            continue
        kind = KIND_BY_MESSAGE[type(node)]
        key = (kind, node.type)
        if key not in found:
            found[key] = getattr(store, f"get_{kind.name}_type")(node.type).id
        node.type_id = found[key]


def put_execution(store: Store, request: svc.PutExecutionRequest) -> svc.PutExecutionResponse:
    """PutExecution: the (artifact, event) pairs, contexts and reuse options of the request."""
    pairs = [
        (pair.artifact if pair.HasField("artifact") else None, pair.event if pair.HasField("event") else None)
        for pair in request.artifact_event_pairs
    ]
    options = request.options
    execution_id, artifact_ids, context_ids = store.put_execution(
        request.execution,
        pairs,
        request.contexts,
        reuse_context_if_already_exist=options.reuse_context_if_already_exist,
        reuse_artifact_if_already_exist_by_external_id=options.reuse_artifact_if_already_exist_by_external_id,
        force_reuse_context=options.force_reuse_context,
        force_update_time=options.force_update_time,
    )
    return svc.PutExecutionResponse(execution_id=execution_id, artifact_ids=artifact_ids, context_ids=context_ids)


def put_lineage_subgraph(store: Store, request: svc.PutLineageSubgraphRequest) -> svc.PutLineageSubgraphResponse:
    """PutLineageSubgraph: event edges by index (unset indexes stay None), with the reuse options."""
    edges = [
        (
            edge.execution_index if edge.HasField("execution_index") else None,
            edge.artifact_index if edge.HasField("artifact_index") else None,
            edge.event,
        )
        for edge in request.event_edges
    ]
    options = request.options
    execution_ids, artifact_ids, context_ids = store.put_lineage_subgraph(
        request.executions,
        request.artifacts,
        request.contexts,
        edges,
        reuse_context_if_already_exist=options.reuse_context_if_already_exist,
        reuse_artifact_if_already_exist_by_external_id=options.reuse_artifact_if_already_exist_by_external_id,
    )
    return svc.PutLineageSubgraphResponse(
        execution_ids=execution_ids, artifact_ids=artifact_ids, context_ids=context_ids
    )
