"""mlineage's HistoryService over gRPC (``/mlineage.v1.HistoryService/…``): revisions, deletion, reads as of a moment.

``GetLineage`` is ``mlineage.lineage.lineage`` (the walk through deleted nodes,
with their tombstones, hops and cursor pages), so that a client of a server
gets the answer an embedded store gives. ``ReadAsOf`` carries one of MLMD's read requests (serialized) and answers MLMD's
response for it (serialized): the same handler MLMD's service runs, on the
store's read-only view as of the moment asked. MLMD's messages stay as they are.
"""

from __future__ import annotations

import grpc

from mlineage.api.grpc.service import MetadataStoreServicer, rpc, write_rpc
from mlineage.api.metrics import timed_unary
from mlineage.errors import InvalidArgumentError
from mlineage.lineage.query import lineage
from mlineage.metadata.kinds import KINDS, NodeKind
from mlineage.metadata.store import Store
from mlineage.proto import history_pb2 as hpb
from mlineage.proto import metadata_store_service_pb2 as svc

HISTORY_SERVICE = "mlineage.v1.HistoryService"
_MLMD_METHODS = {
    method.name: method for method in svc.DESCRIPTOR.services_by_name["MetadataStoreService"].methods
}
# What ReadAsOf runs: MLMD's reads (a view as of a moment has no writes).
READ_METHODS = frozenset(name for name in _MLMD_METHODS if name.startswith("Get"))


def _kind(name: str) -> NodeKind:
    kind = KINDS.get(name)
    if kind is not None:
        return kind
    raise InvalidArgumentError(f"kind must be one of artifact, execution, context, not {name[:64]!r}")


class HistoryServicer:
    def __init__(self, store: Store) -> None:
        self.store = store

    @rpc
    def GetNodeHistory(self, request):
        kind = _kind(request.kind)
        if not request.HasField("id"):
            raise InvalidArgumentError("id is required")
        response = hpb.GetNodeHistoryResponse()
        for revision in self.store.node_history(kind, request.id):
            entry = response.revisions.add(
                revision=revision.revision,
                operation=revision.operation,
                time_ms=revision.time_ms,
                surface=revision.surface,
                changed=list(revision.changed),
            )
            if revision.actor:
                entry.actor = revision.actor
            if revision.peer:
                entry.peer = revision.peer
            if revision.node is not None:
                getattr(entry, kind.name).CopyFrom(revision.node)
        return response

    @write_rpc
    def DeleteNodes(self, request):
        kind = _kind(request.kind)
        return hpb.DeleteNodesResponse(deleted=self.store.delete_nodes(kind, list(request.ids)))

    @rpc
    def ReadAsOf(self, request):
        if request.method not in READ_METHODS:
            raise InvalidArgumentError(
                f"method must be a read of MetadataStoreService (GetArtifactsByID, GetLineageSubgraph, ...), "
                f"not {request.method[:64]!r}"
            )
        if not request.as_of:
            raise InvalidArgumentError(
                "as_of is required: RFC 3339 (2026-05-01T12:00:00Z) or epoch milliseconds"
            )
        method = _MLMD_METHODS[request.method]
        request_class = getattr(svc, method.input_type.name)
        try:
            inner = request_class.FromString(request.request)
        except Exception:  # noqa: BLE001 - any decode failure is the caller's bytes
            raise InvalidArgumentError(f"request is not a serialized {method.input_type.name}") from None
        view = self.store.as_of(request.as_of)
        servicer = MetadataStoreServicer(view, cache=False)  # type: ignore[arg-type]  # the view has every read
        answer = getattr(MetadataStoreServicer, request.method).__wrapped__(servicer, inner)
        wire = answer if type(answer) is bytes else answer.SerializeToString()
        return hpb.ReadAsOfResponse(response=wire, as_of_ms=view.as_of_ms)

    @rpc
    def GetLineage(self, request):
        def listed(field: str, inner: str):
            return list(getattr(getattr(request, field), inner)) if request.HasField(field) else None

        answer = lineage(
            self.store,
            artifact_ids=list(request.artifact_ids),
            execution_ids=list(request.execution_ids),
            direction=request.direction if request.HasField("direction") else "both",
            **({"max_hops": request.max_hops} if request.HasField("max_hops") else {}),
            ending_artifacts=request.ending_artifacts if request.HasField("ending_artifacts") else None,
            ending_executions=request.ending_executions if request.HasField("ending_executions") else None,
            include_ending=request.include_ending,
            artifact_types=listed("artifact_types", "names"),
            execution_types=listed("execution_types", "names"),
            artifact_states=listed("artifact_states", "states"),
            execution_states=listed("execution_states", "states"),
            max_nodes=request.max_nodes if request.HasField("max_nodes") else None,
            cursor=request.cursor if request.HasField("cursor") else None,
            with_contexts=request.with_contexts,
        )
        response = hpb.GetLineageResponse(truncated=answer.truncated)
        response.graph.CopyFrom(answer.graph)
        for (kind_name, node_id), hop in answer.hops.items():
            hops = response.artifact_hops if kind_name == "artifact" else response.execution_hops
            hops.add(id=node_id, hop=hop)
        if answer.cursor is not None:
            response.cursor = answer.cursor
        for tombstone in answer.tombstones:
            entry = response.tombstones.add(kind=tombstone.kind, id=tombstone.id, type_id=tombstone.type_id)
            for name in ("type_name", "name", "deleted_ms"):
                if getattr(tombstone, name) is not None:
                    setattr(entry, name, getattr(tombstone, name))
        return response


def history_handlers(store: Store) -> grpc.GenericRpcHandler:
    servicer = HistoryServicer(store)
    service = hpb.DESCRIPTOR.services_by_name["HistoryService"]
    handlers = {
        method.name: grpc.unary_unary_rpc_method_handler(
            timed_unary(f"/{HISTORY_SERVICE}/{method.name}", getattr(servicer, method.name)),
            request_deserializer=getattr(hpb, method.input_type.name).FromString,
            response_serializer=lambda message: message.SerializeToString(),
        )
        for method in service.methods
    }
    return grpc.method_handlers_generic_handler(HISTORY_SERVICE, handlers)
