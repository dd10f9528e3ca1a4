"""Raw gRPC calls against `mlineage serve`: what the ml-metadata client never sends, and the wire details.

These use grpc and mlineage's own messages from our environment: the four RPCs
the Python client never calls, dehydrated GetLineageSubgraph answers, page
tokens, status codes, both service names, health checking and reflection.
"""

from __future__ import annotations

import grpc
import pytest
from conftest import BACKENDS, postgres_database
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from grpc_server import mlineage_server
from mysql_databases import mysql_database

from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metadata_store_service_pb2 as svc

MLMD = "ml_metadata.MetadataStoreService"
OURS = "mlineage.v1.MetadataStoreService"
_METHODS = svc.DESCRIPTOR.services_by_name["MetadataStoreService"].methods_by_name


class Rpc:
    """Call any MetadataStoreService method by name under either service path."""

    def __init__(self, channel: grpc.Channel, service: str = MLMD) -> None:
        self.channel = channel
        self.service = service

    def __call__(self, name: str, request, service: str | None = None):
        response_class = getattr(svc, _METHODS[name].output_type.name)
        method = self.channel.unary_unary(
            f"/{service or self.service}/{name}",
            request_serializer=lambda message: message.SerializeToString(),
            response_deserializer=response_class.FromString,
        )
        return method(request, timeout=30)

    def code(self, name: str, request, service: str | None = None) -> grpc.StatusCode:
        with pytest.raises(grpc.RpcError) as failure:
            self(name, request, service)
        return failure.value.code()


@pytest.fixture(scope="module", params=[*BACKENDS, "mysql"])
def server(request, tmp_path_factory):
    db = tmp_path_factory.mktemp("grpc-raw") if request.param == "sqlite" else (
        mysql_database("mlineage_raw") if request.param == "mysql" else postgres_database("mlineage_raw"))
    with mlineage_server(db) as running:
        yield running


@pytest.fixture(scope="module")
def channel(server):
    with grpc.insecure_channel(server.target) as opened:
        yield opened


@pytest.fixture(scope="module")
def rpc(channel) -> Rpc:
    return Rpc(channel)


@pytest.fixture(scope="module")
def chain(rpc):
    """a1 -> e1 -> a2 -> e2 -> a3 of types A/E, context c1 on a1 and e1; contexts c1 <- c2, c3; c2 <- c4."""
    types = rpc(
        "PutTypes",
        svc.PutTypesRequest(
            artifact_types=[pb.ArtifactType(name="chain.A")],
            execution_types=[pb.ExecutionType(name="chain.E")],
            context_types=[pb.ContextType(name="chain.C")],
        ),
    )
    a, e, c = types.artifact_type_ids[0], types.execution_type_ids[0], types.context_type_ids[0]
    artifacts = [pb.Artifact(type_id=a, name=f"chain.a{i}", uri=f"/chain/a{i}") for i in (1, 2, 3)]
    aids = list(rpc("PutArtifacts", svc.PutArtifactsRequest(artifacts=artifacts)).artifact_ids)
    executions = [pb.Execution(type_id=e, name=f"chain.e{i}") for i in (1, 2)]
    eids = list(rpc("PutExecutions", svc.PutExecutionsRequest(executions=executions)).execution_ids)
    contexts = [pb.Context(type_id=c, name=f"chain.c{i}") for i in (1, 2, 3, 4)]
    cids = list(rpc("PutContexts", svc.PutContextsRequest(contexts=contexts)).context_ids)
    event = pb.Event
    rpc("PutEvents", svc.PutEventsRequest(events=[
        event(artifact_id=aids[0], execution_id=eids[0], type=event.INPUT),
        event(artifact_id=aids[1], execution_id=eids[0], type=event.OUTPUT),
        event(artifact_id=aids[1], execution_id=eids[1], type=event.INPUT),
        event(artifact_id=aids[2], execution_id=eids[1], type=event.OUTPUT),
    ]))  # fmt: skip
    rpc(
        "PutAttributionsAndAssociations",
        svc.PutAttributionsAndAssociationsRequest(
            attributions=[pb.Attribution(artifact_id=aids[0], context_id=cids[0])],
            associations=[pb.Association(execution_id=eids[0], context_id=cids[0])],
        ),
    )
    rpc("PutParentContexts", svc.PutParentContextsRequest(parent_contexts=[
        pb.ParentContext(child_id=cids[1], parent_id=cids[0]),
        pb.ParentContext(child_id=cids[2], parent_id=cids[0]),
        pb.ParentContext(child_id=cids[3], parent_id=cids[1]),
    ]))  # fmt: skip
    return {"types": (a, e, c), "a": aids, "e": eids, "c": cids}


def test_put_types_is_one_atomic_upsert(rpc):
    request = svc.PutTypesRequest(
        artifact_types=[pb.ArtifactType(name="pt.A", properties={"p": pb.INT})],
        execution_types=[pb.ExecutionType(name="pt.E")],
        context_types=[pb.ContextType(name="pt.C")],
    )
    first = rpc("PutTypes", request)
    assert len(first.artifact_type_ids) == len(first.execution_type_ids) == len(first.context_type_ids) == 1
    again = rpc("PutTypes", request)
    assert again == first
    assert rpc("GetArtifactType", svc.GetArtifactTypeRequest(type_name="pt.A")).artifact_type.id == (
        first.artifact_type_ids[0]
    )
    # A new context type next to an incompatible artifact type: ALREADY_EXISTS, and neither is written.
    bad = svc.PutTypesRequest(
        artifact_types=[pb.ArtifactType(name="pt.A", properties={"p": pb.STRING})],
        context_types=[pb.ContextType(name="pt.C2")],
    )
    assert rpc.code("PutTypes", bad) == grpc.StatusCode.ALREADY_EXISTS
    assert rpc.code("GetContextType", svc.GetContextTypeRequest(type_name="pt.C2")) == grpc.StatusCode.NOT_FOUND
    grown = svc.PutTypesRequest(
        artifact_types=[pb.ArtifactType(name="pt.A", properties={"p": pb.INT, "q": pb.STRING})], can_add_fields=True
    )
    assert rpc("PutTypes", grown).artifact_type_ids == first.artifact_type_ids


def test_parent_and_children_contexts_by_contexts(rpc, chain):
    c1, c2, c3, c4 = chain["c"]
    parents = rpc("GetParentContextsByContexts", svc.GetParentContextsByContextsRequest(context_ids=[c1, c2, c3, c4]))
    assert {child: [p.name for p in entry.parent_contexts] for child, entry in parents.contexts.items()} == {
        c2: ["chain.c1"], c3: ["chain.c1"], c4: ["chain.c2"],
    }  # fmt: skip
    children = rpc(
        "GetChildrenContextsByContexts", svc.GetChildrenContextsByContextsRequest(context_ids=[c1, c2, c3, 987654])
    )
    assert {parent: sorted(c.name for c in entry.children_contexts) for parent, entry in children.contexts.items()} == {
        c1: ["chain.c2", "chain.c3"], c2: ["chain.c4"],
    }  # fmt: skip
    assert children.contexts[c1].children_contexts[0].type == "chain.C"


def test_get_lineage_graph_from_query_artifacts(rpc, chain):
    options = pb.LineageGraphQueryOptions()
    options.artifacts_options.filter_query = "name = 'chain.a1'"
    options.stop_conditions.max_num_hops = 2
    graph = rpc("GetLineageGraph", svc.GetLineageGraphRequest(options=options)).subgraph
    assert sorted(a.name for a in graph.artifacts) == ["chain.a1", "chain.a2"]
    assert [e.name for e in graph.executions] == ["chain.e1"]
    assert len(graph.events) == 2
    assert "chain.A" in {t.name for t in graph.artifact_types}
    assert all(a.uri for a in graph.artifacts)  # full nodes, unlike GetLineageSubgraph

    options.stop_conditions.max_num_hops = 10
    options.stop_conditions.boundary_artifacts = "name != 'chain.a3'"
    graph = rpc("GetLineageGraph", svc.GetLineageGraphRequest(options=options)).subgraph
    assert sorted(a.name for a in graph.artifacts) == ["chain.a1", "chain.a2"]
    assert sorted(e.name for e in graph.executions) == ["chain.e1", "chain.e2"]

    options.stop_conditions.ClearField("boundary_artifacts")
    options.max_node_size = 2
    graph = rpc("GetLineageGraph", svc.GetLineageGraphRequest(options=options)).subgraph
    assert len(graph.artifacts) + len(graph.executions) == 2


def test_get_lineage_subgraph_returns_dehydrated_nodes_and_all_types(rpc, chain):
    query = pb.LineageSubgraphQueryOptions(max_num_hops=10)
    query.starting_artifacts.filter_query = "name = 'chain.a2'"
    request = svc.GetLineageSubgraphRequest(lineage_subgraph_query_options=query)
    request.read_mask.paths.extend(
        ["artifacts", "executions", "contexts", "events", "artifact_types", "execution_types", "context_types"]
    )
    graph = rpc("GetLineageSubgraph", request).lineage_subgraph
    assert sorted(a.id for a in graph.artifacts) == sorted(chain["a"])
    assert sorted(e.id for e in graph.executions) == sorted(chain["e"])
    assert [c.id for c in graph.contexts] == [chain["c"][0]]
    for node in [*graph.artifacts, *graph.executions, *graph.contexts]:
        assert [field.name for field, _ in node.ListFields()] == ["id"]  # dehydrated
    assert len(graph.events) == 4 and all(e.milliseconds_since_epoch for e in graph.events)
    # *_types in the mask: every type in the database, MLMD's nine system types included.
    artifact_types = {t.name for t in graph.artifact_types}
    assert {"mlmd.Dataset", "mlmd.Model", "mlmd.Metrics", "mlmd.Statistics", "chain.A"} <= artifact_types
    assert {"mlmd.Train", "mlmd.Deploy", "chain.E"} <= {t.name for t in graph.execution_types}
    assert "chain.C" in {t.name for t in graph.context_types}
    assert {t.name: t.id for t in graph.artifact_types}["mlmd.Model"] == 2

    request.read_mask.Clear()
    request.read_mask.paths.append("events")
    graph = rpc("GetLineageSubgraph", request).lineage_subgraph
    assert len(graph.events) == 4 and not graph.artifacts and not graph.artifact_types


@pytest.fixture(scope="module")
def many(rpc) -> list[int]:
    type_id = rpc("PutArtifactType", svc.PutArtifactTypeRequest(artifact_type=pb.ArtifactType(name="page.P"))).type_id
    ids: list[int] = []
    for start in (0, 125):  # two calls, so create times tie within each
        artifacts = [pb.Artifact(type_id=type_id, uri=f"/page/{i}") for i in range(start, start + 125)]
        ids += rpc("PutArtifacts", svc.PutArtifactsRequest(artifacts=artifacts)).artifact_ids
    return ids


def _pages(rpc: Rpc, options: pb.ListOperationOptions) -> tuple[list[int], list[int]]:
    """(ids of all pages, page sizes) following next_page_token."""
    ids: list[int] = []
    sizes: list[int] = []
    request = svc.GetArtifactsByTypeRequest(type_name="page.P", options=options)
    while True:
        response = rpc("GetArtifactsByType", request)
        ids += [a.id for a in response.artifacts]
        sizes.append(len(response.artifacts))
        if not response.next_page_token:
            return ids, sizes
        request.options.next_page_token = response.next_page_token
        assert len(sizes) < 50


@pytest.mark.parametrize(
    ("size", "field", "is_asc", "expected_sizes"),
    [
        (101, pb.ListOperationOptions.OrderByField.ID, True, [101, 101, 48]),
        (250, pb.ListOperationOptions.OrderByField.ID, True, [250]),
        (100, pb.ListOperationOptions.OrderByField.CREATE_TIME, False, [100, 100, 50]),
        (101, pb.ListOperationOptions.OrderByField.LAST_UPDATE_TIME, True, [101, 101, 48]),
        (7, pb.ListOperationOptions.OrderByField.CREATE_TIME, True, [7] * 35 + [5]),
    ],
)
def test_page_tokens_never_truncate(rpc, many, size, field, is_asc, expected_sizes):
    options = pb.ListOperationOptions(max_result_size=size)
    options.order_by_field.field = field
    options.order_by_field.is_asc = is_asc
    ids, sizes = _pages(rpc, options)
    assert sizes == expected_sizes  # MLMD returns 101 rows and no token for sizes over 100
    assert sorted(ids) == sorted(many) and len(set(ids)) == 250
    if field == pb.ListOperationOptions.OrderByField.ID:
        assert ids == sorted(many, reverse=not is_asc)


def test_page_size_default_and_invalid(rpc, many):
    first = rpc("GetArtifactsByType", svc.GetArtifactsByTypeRequest(type_name="page.P", options={}))
    assert len(first.artifacts) == 20 and first.next_page_token  # options without a size: 20 a page
    everything = rpc("GetArtifactsByType", svc.GetArtifactsByTypeRequest(type_name="page.P"))
    assert len(everything.artifacts) == 250 and not everything.next_page_token  # no options: everything
    bad = svc.GetArtifactsRequest(options=pb.ListOperationOptions(max_result_size=0))
    assert rpc.code("GetArtifacts", bad) == grpc.StatusCode.INVALID_ARGUMENT
    # A token used with other ordering is refused, as MLMD does.
    options = pb.ListOperationOptions(max_result_size=10, next_page_token=first.next_page_token)
    options.order_by_field.field = pb.ListOperationOptions.OrderByField.CREATE_TIME
    request = svc.GetArtifactsByTypeRequest(type_name="page.P", options=options)
    assert rpc.code("GetArtifactsByType", request) == grpc.StatusCode.INVALID_ARGUMENT
    garbage = svc.GetArtifactsRequest(options=pb.ListOperationOptions(next_page_token="not-a-token"))
    assert rpc.code("GetArtifacts", garbage) == grpc.StatusCode.INVALID_ARGUMENT


def test_status_codes(rpc):
    missing = svc.GetArtifactTypeRequest(type_name="status.Missing")
    assert rpc.code("GetArtifactType", missing) == grpc.StatusCode.NOT_FOUND
    assert rpc.code("GetExecutionType", svc.GetExecutionTypeRequest(type_name="x")) == grpc.StatusCode.NOT_FOUND
    by_name = rpc("GetArtifactByTypeAndName", svc.GetArtifactByTypeAndNameRequest(type_name="x", artifact_name="y"))
    assert not by_name.HasField("artifact")  # OK with an empty answer, not NOT_FOUND
    bad_filter = svc.GetArtifactsRequest(options=pb.ListOperationOptions(filter_query="name = = 'x'"))
    assert rpc.code("GetArtifacts", bad_filter) == grpc.StatusCode.INVALID_ARGUMENT
    unknown = svc.GetExecutionsRequest(options=pb.ListOperationOptions(filter_query="no_such_attribute = 1"))
    assert rpc.code("GetExecutions", unknown) == grpc.StatusCode.INVALID_ARGUMENT

    type_id = rpc("PutArtifactType", svc.PutArtifactTypeRequest(artifact_type=pb.ArtifactType(name="status.T"))).type_id
    named = svc.PutArtifactsRequest(artifacts=[pb.Artifact(type_id=type_id, name="dup")])
    rpc("PutArtifacts", named)
    assert rpc.code("PutArtifacts", named) == grpc.StatusCode.ALREADY_EXISTS
    unknown_property = svc.PutArtifactsRequest(artifacts=[pb.Artifact(type_id=type_id, properties={"p": pb.Value()})])
    assert rpc.code("PutArtifacts", unknown_property) == grpc.StatusCode.INVALID_ARGUMENT
    changed = pb.ArtifactType(name="status.T", properties={"p": pb.INT})
    assert rpc.code("PutArtifactType", svc.PutArtifactTypeRequest(artifact_type=changed)) == (
        grpc.StatusCode.ALREADY_EXISTS
    )
    no_start = svc.GetLineageSubgraphRequest(lineage_subgraph_query_options=pb.LineageSubgraphQueryOptions())
    assert rpc.code("GetLineageSubgraph", no_start) == grpc.StatusCode.INVALID_ARGUMENT


def test_same_service_under_our_package_name(rpc):
    created = rpc(
        "PutContextType", svc.PutContextTypeRequest(context_type=pb.ContextType(name="ours.C")), service=OURS
    )
    got = rpc("GetContextType", svc.GetContextTypeRequest(type_name="ours.C"), service=MLMD)
    assert got.context_type.id == created.type_id
    got = rpc("GetContextType", svc.GetContextTypeRequest(type_name="ours.C"), service=OURS)
    assert got.context_type.name == "ours.C"
    assert rpc.code("GetContextType", svc.GetContextTypeRequest(type_name="nope"), service=OURS) == (
        grpc.StatusCode.NOT_FOUND
    )
    # Every one of the 52 methods is routed under both names (an empty request must not be UNIMPLEMENTED).
    for name in _METHODS:
        for service in (MLMD, OURS):
            try:
                rpc(name, getattr(svc, _METHODS[name].input_type.name)(), service=service)
            except grpc.RpcError as error:
                assert error.code() != grpc.StatusCode.UNIMPLEMENTED, f"{service}/{name}"
                assert error.code() != grpc.StatusCode.INTERNAL, f"{service}/{name}: {error.details()}"
    assert len(_METHODS) == 52


def test_health_service(channel):
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", MLMD, OURS):
        status = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status
        assert status == health_pb2.HealthCheckResponse.SERVING, service
    with pytest.raises(grpc.RpcError) as failure:
        health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=10)
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND


def test_reflection_lists_and_describes_the_services(channel):
    database = ProtoReflectionDescriptorDatabase(channel)
    services = set(database.get_services())
    assert {OURS, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= services
    from google.protobuf.descriptor_pool import DescriptorPool

    pool = DescriptorPool(database)
    service = pool.FindServiceByName(OURS)
    assert len(service.methods) == 52
    assert service.methods_by_name["GetLineageSubgraph"].output_type.full_name == (
        "mlineage.v1.GetLineageSubgraphResponse"
    )
