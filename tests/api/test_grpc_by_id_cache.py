"""The gRPC service's by-id cache: MLMD's answers, byte for byte, and never one a committed write has changed.

``mlineage serve`` on SQLite answers GetArtifactsByID, GetExecutionsByID,
GetContextsByID and the types-by-id RPCs from serialized messages while the
database is unchanged (``PRAGMA data_version`` on a connection of its own).
Pinned here: the answers equal the uncached service's for every request shape
(order, repeats, missing ids, types of another kind, populate_artifact_types);
a repeated get runs no SQL; any commit, through the same store, through
another connection to the file, or through a real ``mlineage serve``'s
clients, is seen by the next get.
"""

from __future__ import annotations

import sqlite3

import grpc
import pytest
from grpc_server import mlineage_server
from sqlalchemy import event

import mlineage
from mlineage.api.grpc.by_id_cache import ByIdCache
from mlineage.api.grpc.service import MetadataStoreServicer, _serialize
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metadata_store_service_pb2 as svc

MLMD = "ml_metadata.MetadataStoreService"


class _Context:
    def abort(self, code, details):
        raise AssertionError(f"{code}: {details}")


def _call(servicer: MetadataStoreServicer, name: str, request):
    """The response message a client would decode from the servicer's answer."""
    answer = getattr(servicer, name)(request, _Context())
    response_class = getattr(svc, f"{name}Response")
    return response_class.FromString(_serialize(answer))


@pytest.fixture
def populated(tmp_path):
    url = f"sqlite:///{tmp_path / 'cache.db'}"
    store = mlineage.connect(url)
    dataset = store.put_artifact_type(pb.ArtifactType(name="Dataset", properties={"span": pb.INT}))
    model = store.put_artifact_type(pb.ArtifactType(name="Model"))
    trainer = store.put_execution_type(pb.ExecutionType(name="Trainer"))
    run = store.put_context_type(pb.ContextType(name="Run"))
    artifacts = []
    for i in range(6):
        artifact = pb.Artifact(type_id=dataset if i % 2 else model, uri=f"/d/{i}", name=f"a{i}")
        if i % 2:
            artifact.properties["span"].int_value = i
        artifact.custom_properties["tag"].string_value = f"t{i}"
        artifacts.append(artifact)
    ids = {
        "artifacts": store.put_artifacts(artifacts),
        "executions": store.put_executions([pb.Execution(type_id=trainer, name=f"x{i}") for i in range(3)]),
        "contexts": store.put_contexts([pb.Context(type_id=run, name=f"r{i}") for i in range(2)]),
        "types": {"Dataset": dataset, "Model": model, "Trainer": trainer, "Run": run},
    }
    yield url, store, ids
    store.close()


def _requests(ids):
    a, e, c, t = ids["artifacts"], ids["executions"], ids["contexts"], ids["types"]
    missing = 10_000
    yield "GetArtifactsByID", svc.GetArtifactsByIDRequest(artifact_ids=[a[3], a[0], a[3], missing, a[5]])
    yield "GetArtifactsByID", svc.GetArtifactsByIDRequest(artifact_ids=a[::-1], populate_artifact_types=True)
    yield "GetArtifactsByID", svc.GetArtifactsByIDRequest(artifact_ids=[a[1], a[2]], populate_artifact_types=True)
    yield "GetArtifactsByID", svc.GetArtifactsByIDRequest()
    yield "GetExecutionsByID", svc.GetExecutionsByIDRequest(execution_ids=[e[2], e[0], e[2], missing])
    yield "GetContextsByID", svc.GetContextsByIDRequest(context_ids=[c[1], missing, c[0]])
    types = [t["Model"], t["Dataset"], t["Model"], missing, t["Trainer"]]
    yield "GetArtifactTypesByID", svc.GetArtifactTypesByIDRequest(type_ids=types)
    yield "GetExecutionTypesByID", svc.GetExecutionTypesByIDRequest(type_ids=[t["Trainer"], t["Dataset"]])
    yield "GetContextTypesByID", svc.GetContextTypesByIDRequest(type_ids=[t["Run"], t["Run"]])


def test_cached_answers_are_the_uncached_answers(populated):
    _, store, ids = populated
    cached, plain = MetadataStoreServicer(store, cache=True), MetadataStoreServicer(store, cache=False)
    assert cached._cache is not None and plain._cache is None
    for _ in range(2):  # a miss, then a hit
        for name, request in _requests(ids):
            assert _call(cached, name, request) == _call(plain, name, request), (name, request)


def test_a_repeated_get_runs_no_sql_until_something_commits(populated):
    _, store, ids = populated
    statements: list[str] = []
    store.engine.dispose()  # new pooled connections get the trace
    event.listen(store.engine, "connect", lambda dbapi, _record: dbapi.set_trace_callback(statements.append))
    servicer = MetadataStoreServicer(store, cache=True)
    request = svc.GetArtifactsByIDRequest(artifact_ids=ids["artifacts"], populate_artifact_types=True)
    first = _call(servicer, "GetArtifactsByID", request)
    assert statements
    statements.clear()
    assert _call(servicer, "GetArtifactsByID", request) == first
    assert statements == []
    store.put_executions([pb.Execution(type_id=ids["types"]["Trainer"], name="another")])
    statements.clear()
    assert _call(servicer, "GetArtifactsByID", request) == first
    assert any("artifact" in sql.lower() for sql in statements)


def assert_store_and_replica_commits_seen(url: str, store, servicer, ids) -> tuple[int, object]:
    """Commits through the same store, then through another store on the same database (another
    process or replica), each seen by the next cached get; returns (artifact id, its request)."""
    artifact_id = ids["artifacts"][1]
    request = svc.GetArtifactsByIDRequest(artifact_ids=[artifact_id], populate_artifact_types=True)
    types_request = svc.GetArtifactTypesByIDRequest(type_ids=[ids["types"]["Dataset"]])
    assert _call(servicer, "GetArtifactsByID", request).artifacts[0].properties["span"].int_value == 1
    _call(servicer, "GetArtifactTypesByID", types_request)

    # Through the same store.
    [artifact] = store.get_artifacts_by_id([artifact_id])
    artifact.properties["span"].int_value = 2
    store.put_artifacts([artifact])
    assert _call(servicer, "GetArtifactsByID", request).artifacts[0].properties["span"].int_value == 2

    # Through another store on the same database (another process, another replica).
    other = mlineage.connect(url)
    artifact.properties["span"].int_value = 3
    other.put_artifacts([artifact])
    other.put_artifact_type(
        pb.ArtifactType(name="Dataset", properties={"span": pb.INT, "split": pb.STRING}), can_add_fields=True
    )
    other.close()
    got = _call(servicer, "GetArtifactsByID", request)
    assert got.artifacts[0].properties["span"].int_value == 3
    assert "split" in got.artifact_types[0].properties
    assert "split" in _call(servicer, "GetArtifactTypesByID", types_request).artifact_types[0].properties

    return artifact_id, request


def test_every_commit_is_seen_by_the_next_get(populated, tmp_path):
    url, store, ids = populated
    servicer = MetadataStoreServicer(store, cache=True)
    artifact_id, request = assert_store_and_replica_commits_seen(url, store, servicer, ids)

    # Through plain sqlite3, outside mlineage altogether.
    db = sqlite3.connect(url.removeprefix("sqlite:///"))
    db.execute("UPDATE artifacts SET uri = '/moved' WHERE id = ?", (artifact_id,))
    db.commit()
    db.close()
    assert _call(servicer, "GetArtifactsByID", request).artifacts[0].uri == "/moved"


def test_no_cache_on_memory(tmp_path):
    from mlineage.metadata.store import Store

    memory = Store("sqlite://")
    assert ByIdCache.for_store(memory) is None
    memory.close()
    # PostgreSQL is cached by snapshot (tests/api/test_grpc_by_id_cache_postgres.py).
    on_file = Store(f"sqlite:///{tmp_path / 'f.db'}")
    cache = ByIdCache.for_store(on_file)
    assert cache is not None
    cache.close()
    on_file.close()


def test_mlineage_serve_answers_updates_from_its_clients_and_from_other_writers(tmp_path):
    with mlineage_server(tmp_path) as server:
        channel = grpc.insecure_channel(server.target)

        def rpc(name, request):
            response_class = getattr(svc, f"{name}Response")
            method = channel.unary_unary(
                f"/{MLMD}/{name}",
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=response_class.FromString,
            )
            return method(request, timeout=30)

        type_id = rpc("PutArtifactType", svc.PutArtifactTypeRequest(artifact_type=pb.ArtifactType(name="D"))).type_id
        [artifact_id] = rpc(
            "PutArtifacts", svc.PutArtifactsRequest(artifacts=[pb.Artifact(type_id=type_id, uri="/one")])
        ).artifact_ids
        get = svc.GetArtifactsByIDRequest(artifact_ids=[artifact_id], populate_artifact_types=True)
        for _ in range(3):
            assert rpc("GetArtifactsByID", get).artifacts[0].uri == "/one"
        rpc("PutArtifacts", svc.PutArtifactsRequest(artifacts=[pb.Artifact(id=artifact_id, type_id=type_id, uri="/two")]))
        assert rpc("GetArtifactsByID", get).artifacts[0].uri == "/two"
        # Another writer on the same file, not through the server.
        other = mlineage.connect(server.db_url)
        [stored] = other.get_artifacts_by_id([artifact_id])
        stored.uri = "/three"
        other.put_artifacts([stored])
        other.close()
        got = rpc("GetArtifactsByID", get)
        assert got.artifacts[0].uri == "/three" and got.artifact_types[0].name == "D"
        channel.close()


def test_uncached_gets_answer_exactly_the_stores_messages(populated):
    # With the cache off the service writes the response's repeated field itself: the same bytes
    # as a response message holding the store's answer.
    _, store, ids = populated
    plain = MetadataStoreServicer(store, cache=False)
    asked = {"artifact": [ids["artifacts"][3], ids["artifacts"][0], 10_000], "execution": ids["executions"][::-1]}
    asked["context"] = ids["contexts"]
    for kind, response_class, field in (
        ("artifact", svc.GetArtifactsByIDResponse, "artifacts"),
        ("execution", svc.GetExecutionsByIDResponse, "executions"),
        ("context", svc.GetContextsByIDResponse, "contexts"),
    ):
        request = getattr(svc, f"Get{field.capitalize()}ByIDRequest")(**{f"{kind}_ids": asked[kind]})
        answer = getattr(plain, f"Get{field.capitalize()}ByID")(request, _Context())
        expected = response_class(**{field: getattr(store, f"get_{field}_by_id")(asked[kind])})
        assert _serialize(answer) == expected.SerializeToString()
