"""MLMD's composite write requests decoded into Store calls, shared by the gRPC and REST adapters."""

from __future__ import annotations

from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_service_pb2 as svc


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
