"""Many clients at once: one server on SQLite, two servers on one PostgreSQL database, and a SIGTERM drain.

SQLite has one writer at a time; callers must never see "database is locked"
(or any error) because of it. Two `mlineage serve` processes sharing one
PostgreSQL database must keep MLMD's unique rules under races: every name
exists once, losers get ALREADY_EXISTS (never INTERNAL), and a context created
with reuse_context_if_already_exist is reused, not duplicated.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from conftest import postgres_database
from grpc_server import mlineage_server

from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metadata_store_service_pb2 as svc

_METHODS = svc.DESCRIPTOR.services_by_name["MetadataStoreService"].methods_by_name
EVENT = pb.Event


class Client:
    """A raw MLMD-path client on one channel (thread-safe, as gRPC channels are)."""

    def __init__(self, target: str) -> None:
        self.channel = grpc.insecure_channel(target)
        self._stubs: dict[str, grpc.UnaryUnaryMultiCallable] = {}

    def stub(self, name: str) -> grpc.UnaryUnaryMultiCallable:
        if name not in self._stubs:
            self._stubs[name] = self.channel.unary_unary(
                f"/ml_metadata.MetadataStoreService/{name}",
                request_serializer=lambda message: message.SerializeToString(),
                response_deserializer=getattr(svc, _METHODS[name].output_type.name).FromString,
            )
        return self._stubs[name]

    def __call__(self, name: str, request, timeout: float = 60):
        return self.stub(name)(request, timeout=timeout)

    def close(self) -> None:
        self.channel.close()


def _types(client: Client, prefix: str) -> tuple[int, int, int]:
    response = client(
        "PutTypes",
        svc.PutTypesRequest(
            artifact_types=[pb.ArtifactType(name=f"{prefix}.Data", properties={"n": pb.INT})],
            execution_types=[pb.ExecutionType(name=f"{prefix}.Step")],
            context_types=[pb.ContextType(name=f"{prefix}.Run")],
        ),
    )
    return response.artifact_type_ids[0], response.execution_type_ids[0], response.context_type_ids[0]


def _count(client: Client, rpc: str, field: str, type_name: str) -> list:
    request = getattr(svc, f"{rpc}Request")(type_name=type_name)
    return list(getattr(client(rpc, request), field))


def test_sixteen_threads_on_one_sqlite_server(tmp_path):
    threads, rounds, runs = 16, 12, 4
    with mlineage_server(tmp_path) as server:
        client = Client(server.target)
        barrier = threading.Barrier(threads)
        failures: list[str] = []

        def worker(worker_id: int) -> int:
            calls = 0
            barrier.wait()
            for i in range(rounds):
                try:
                    data, step, run = _types(client, "load")  # the same types from everyone: idempotent
                    request = svc.PutExecutionRequest(
                        execution=pb.Execution(type_id=step, name=f"w{worker_id}-r{i}"),
                        contexts=[pb.Context(type_id=run, name=f"run-{i % runs}")],
                        options=svc.PutExecutionRequest.Options(reuse_context_if_already_exist=True),
                    )
                    for kind in (EVENT.INPUT, EVENT.OUTPUT):
                        pair = request.artifact_event_pairs.add()
                        pair.artifact.CopyFrom(pb.Artifact(type_id=data, uri=f"/w{worker_id}/{i}/{kind}"))
                        pair.artifact.properties["n"].int_value = i
                        pair.event.type = kind
                    done = client("PutExecution", request)
                    options = pb.ListOperationOptions(max_result_size=5, filter_query="properties.n.int_value >= 0")
                    client("GetArtifactsByContext", svc.GetArtifactsByContextRequest(
                        context_id=done.context_ids[0], options=options))  # fmt: skip
                    client("GetArtifacts", svc.GetArtifactsRequest(
                        options=pb.ListOperationOptions(max_result_size=20, filter_query=f"uri LIKE '/w{worker_id}/%'")
                    ))  # fmt: skip
                    client("GetEventsByExecutionIDs", svc.GetEventsByExecutionIDsRequest(
                        execution_ids=[done.execution_id]))  # fmt: skip
                    query = pb.LineageSubgraphQueryOptions(max_num_hops=2)
                    query.starting_executions.filter_query = f"id = {done.execution_id}"
                    graph = client("GetLineageSubgraph", svc.GetLineageSubgraphRequest(
                        lineage_subgraph_query_options=query)).lineage_subgraph  # fmt: skip
                    assert len(graph.artifacts) == 2
                    calls += 6
                except grpc.RpcError as error:
                    failures.append(f"worker {worker_id} round {i}: {error.code()} {error.details()}")
                except AssertionError as error:
                    failures.append(f"worker {worker_id} round {i}: {error}")
            return calls

        with ThreadPoolExecutor(threads) as pool:
            calls = sum(pool.map(worker, range(threads)))
        assert failures == []
        assert calls == threads * rounds * 6
        assert len(_count(client, "GetExecutionsByType", "executions", "load.Step")) == threads * rounds
        assert len(_count(client, "GetArtifactsByType", "artifacts", "load.Data")) == threads * rounds * 2
        contexts = _count(client, "GetContextsByType", "contexts", "load.Run")
        assert sorted(c.name for c in contexts) == [f"run-{k}" for k in range(runs)]
        for context in contexts:
            members = client("GetExecutionsByContext", svc.GetExecutionsByContextRequest(context_id=context.id))
            assert len(members.executions) == threads * rounds // runs
        client.close()
        assert "database is locked" not in server.output()
        assert "unexpected error" not in server.output()


@pytest.mark.postgres
def test_two_servers_on_one_postgres_database_keep_names_unique():
    url = postgres_database("mlineage_two_servers")
    threads, names = 16, 8
    with mlineage_server(url) as first, mlineage_server(url) as second:
        clients = [Client(first.target), Client(second.target)]
        barrier = threading.Barrier(threads)
        outcomes: Counter[tuple[str, str]] = Counter()
        lock = threading.Lock()

        def record(what: str, code: grpc.StatusCode) -> None:
            with lock:
                outcomes[(what, code.name)] += 1

        def attempt(what: str, client: Client, rpc: str, request):
            try:
                response = client(rpc, request)
            except grpc.RpcError as error:
                record(what, error.code())
                return None
            record(what, grpc.StatusCode.OK)
            return response

        def worker(worker_id: int) -> list[int]:
            client = clients[worker_id % 2]
            barrier.wait()
            # Everyone registers the same types at the same moment.
            artifact_type = pb.ArtifactType(name="race.Data", properties={"n": pb.INT})
            type_ids = [attempt("type", client, "PutArtifactType", svc.PutArtifactTypeRequest(artifact_type=artifact_type))]
            data, step, run = _types(client, "race")
            for k in range(names):
                # The same context names, reused when they exist: always OK.
                request = svc.PutExecutionRequest(
                    execution=pb.Execution(type_id=step),
                    contexts=[pb.Context(type_id=run, name=f"ctx-{k}")],
                    options=svc.PutExecutionRequest.Options(reuse_context_if_already_exist=True),
                )
                attempt("put_execution_reuse", client, "PutExecution", request)
                # The same artifact names: one winner each, ALREADY_EXISTS for the rest.
                named = pb.Artifact(type_id=data, name=f"art-{k}", uri=f"/race/{worker_id}")
                attempt("artifact_name", client, "PutArtifacts", svc.PutArtifactsRequest(artifacts=[named]))
                # The same context names without reuse: one winner each.
                plain = pb.Context(type_id=run, name=f"plain-{k}")
                attempt("context_name", client, "PutContexts", svc.PutContextsRequest(contexts=[plain]))
                # The same external ids through PutLineageSubgraph, reusing them: always OK.
                subgraph = svc.PutLineageSubgraphRequest(
                    executions=[pb.Execution(type_id=step)],
                    artifacts=[pb.Artifact(type_id=data, external_id=f"ext-{k}")],
                    contexts=[pb.Context(type_id=run, name=f"sub-{k}")],
                    event_edges=[svc.PutLineageSubgraphRequest.EventEdge(
                        execution_index=0, artifact_index=0, event=pb.Event(type=EVENT.OUTPUT))],
                    options=svc.PutLineageSubgraphRequest.Options(
                        reuse_context_if_already_exist=True, reuse_artifact_if_already_exist_by_external_id=True),
                )  # fmt: skip
                attempt("lineage_subgraph_reuse", client, "PutLineageSubgraph", subgraph)
            return [response.type_id for response in type_ids if response is not None]

        with ThreadPoolExecutor(threads) as pool:
            type_ids = [type_id for ids in pool.map(worker, range(threads)) for type_id in ids]

        assert outcomes[("type", "OK")] == threads and len(set(type_ids)) == 1
        assert outcomes[("put_execution_reuse", "OK")] == threads * names
        assert outcomes[("lineage_subgraph_reuse", "OK")] == threads * names
        assert outcomes[("artifact_name", "OK")] == names
        assert outcomes[("artifact_name", "ALREADY_EXISTS")] == (threads - 1) * names
        assert outcomes[("context_name", "OK")] == names
        assert outcomes[("context_name", "ALREADY_EXISTS")] == (threads - 1) * names
        assert set(code for _, code in outcomes) <= {"OK", "ALREADY_EXISTS"}, outcomes

        client = clients[0]
        artifact_types = client("GetArtifactTypes", svc.GetArtifactTypesRequest()).artifact_types
        assert [t.name for t in artifact_types].count("race.Data") == 1
        contexts = _count(client, "GetContextsByType", "contexts", "race.Run")
        expected = sorted(f"{prefix}-{k}" for prefix in ("ctx", "plain", "sub") for k in range(names))
        assert sorted(c.name for c in contexts) == expected
        for context in contexts:
            members = client("GetExecutionsByContext", svc.GetExecutionsByContextRequest(context_id=context.id))
            expected_members = 0 if context.name.startswith("plain") else threads
            assert len(members.executions) == expected_members, context.name
        artifacts = _count(client, "GetArtifactsByType", "artifacts", "race.Data")
        assert sorted(a.name for a in artifacts if a.name) == sorted(f"art-{k}" for k in range(names))
        assert sorted(a.external_id for a in artifacts if a.external_id) == sorted(f"ext-{k}" for k in range(names))
        for each in clients:
            each.close()
        for running in (first, second):
            assert "unexpected error" not in running.output()


def test_sigterm_drains_in_flight_calls(tmp_path):
    import httpx

    with mlineage_server(tmp_path, http=True) as server:
        host, grpc_port, http_port = server
        assert httpx.get(f"http://{host}:{http_port}/healthz", timeout=10).status_code == 200
        client = Client(f"{host}:{grpc_port}")
        data, _, _ = _types(client, "drain")
        batch, calls = 1500, 8
        requests = []
        for c in range(calls):
            request = svc.PutArtifactsRequest()
            for i in range(batch):
                artifact = request.artifacts.add(type_id=data, uri=f"/drain/{c}/{i}")
                artifact.properties["n"].int_value = i
                artifact.custom_properties["note"].string_value = "x" * 200
            requests.append(request)
        finished: list[float] = []
        first_done = threading.Event()

        def done(future) -> None:
            finished.append(time.monotonic())
            first_done.set()

        futures = []
        for request in requests:
            future = client.stub("PutArtifacts").future(request, timeout=120)
            future.add_done_callback(done)
            futures.append(future)
        # Once one call is answered the server holds the others (SQLite runs them one at a time).
        assert first_done.wait(60)
        assert not all(f.done() for f in futures), "the batch finished before SIGTERM; make it bigger"
        sent = time.monotonic()
        code = server.terminate()
        results = [future.result() for future in futures]  # raises if any call was cut off
        assert code == 0
        assert [len(r.artifact_ids) for r in results] == [batch] * calls
        assert max(finished) > sent  # some calls were still running when SIGTERM came
        assert "mlineage: stopped" in server.output()
        with pytest.raises(grpc.RpcError) as refused:
            client("GetArtifactTypes", svc.GetArtifactTypesRequest(), timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        client.close()
