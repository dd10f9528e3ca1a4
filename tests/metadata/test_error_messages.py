"""Errors say what the caller did wrong in the API's words: no constraint, table, column or driver text.

The same duplicate or bad value is worded the same on SQLite and PostgreSQL, on the Store, over
gRPC and over REST.
"""

from __future__ import annotations

import contextlib

import grpc
import pytest
from rest_server import http_client

from mlineage.api.grpc.server import build_server
from mlineage.errors import AlreadyExistsError, InvalidArgumentError
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metadata_store_service_pb2 as svc

INTERNALS = ("constraint", "contexts.", "artifacts.", "duplicate key", "detail", "psycopg", "sqlite",
             "varying", "0x00", "recursion", "traceback")  # fmt: skip


def no_internals(message: str) -> None:
    for word in INTERNALS:
        assert word not in message.lower(), message


@pytest.fixture
def seeded(store):
    context_type = store.put_context_type(pb.ContextType(name="Pipeline"))
    artifact_type = store.put_artifact_type(pb.ArtifactType(name="Data"))
    store.put_contexts([pb.Context(type_id=context_type, name="p1", external_id="ctx-1")])
    store.put_artifacts([pb.Artifact(type_id=artifact_type, name="a1", external_id="art-1")])
    store.put_artifact_type(pb.ArtifactType(name="Other", external_id="type-1"))
    return context_type, artifact_type


def error_of(call) -> Exception:
    with pytest.raises((AlreadyExistsError, InvalidArgumentError)) as failure:
        call()
    no_internals(failure.value.message)
    return failure.value


def test_duplicates_are_worded_alike_on_both_databases(store, seeded):
    context_type, artifact_type = seeded
    name = error_of(lambda: store.put_contexts([pb.Context(type_id=context_type, name="p1")]))
    assert isinstance(name, AlreadyExistsError)
    assert name.message == (
        "Given node already exists: another context of the same type has this name (context names are unique "
        "within a type)"
    )
    external = error_of(lambda: store.put_artifacts([pb.Artifact(type_id=artifact_type, external_id="art-1")]))
    assert "another artifact has this external_id" in external.message
    type_external = error_of(lambda: store.put_artifact_type(pb.ArtifactType(name="New", external_id="type-1")))
    assert isinstance(type_external, AlreadyExistsError) and "external_id" in type_external.message
    [second] = store.put_contexts([pb.Context(type_id=context_type, name="p2")])
    rename = error_of(lambda: store.put_contexts([pb.Context(id=second, type_id=context_type, name="p1")]))
    assert "another context of the same type has this name" in rename.message


def test_duplicates_within_one_request_name_the_value(store, seeded):
    context_type, artifact_type = seeded
    twice = [pb.Context(type_id=context_type, name="new"), pb.Context(type_id=context_type, name="new")]
    assert "two contexts of type_id" in error_of(lambda: store.put_contexts(twice)).message
    execution_type = store.put_execution_type(pb.ExecutionType(name="Run"))
    same_external = [pb.Artifact(type_id=artifact_type, external_id="x"), pb.Artifact(type_id=artifact_type, external_id="x")]
    message = error_of(
        lambda: store.put_lineage_subgraph([pb.Execution(type_id=execution_type)], same_external, [], [])
    ).message
    assert message == "Given node already exists: the request has two artifacts with external_id 'x'"


def test_a_filter_value_the_database_cannot_compare_is_invalid_argument(store, seeded):
    from mlineage import ListOptions

    with pytest.raises(InvalidArgumentError) as failure:
        store.get_artifacts(ListOptions(filter_query="uri = 'a\0b'"))
    no_internals(failure.value.message)


@contextlib.contextmanager
def grpc_call(store, method: str, response_class):
    server, port = build_server(store, host="127.0.0.1", port=0)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel.unary_unary(
                f"/ml_metadata.MetadataStoreService/{method}",
                request_serializer=lambda message: message.SerializeToString(),
                response_deserializer=response_class.FromString,
            )
    finally:
        server.stop(None)


def test_grpc_words_a_duplicate_context_as_the_store_does(store, seeded):
    context_type, _ = seeded
    with grpc_call(store, "PutContexts", svc.PutContextsResponse) as put:
        with pytest.raises(grpc.RpcError) as failure:
            put(svc.PutContextsRequest(contexts=[pb.Context(type_id=context_type, name="p1")]), timeout=30)
    assert failure.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "another context of the same type has this name" in failure.value.details()
    no_internals(failure.value.details())


def test_rest_words_duplicates_and_refused_values(store, seeded):
    context_type, artifact_type = seeded
    with http_client(store) as api:
        answers = [
            (409, api.post("/api/v1/contexts", json={"type_id": context_type, "name": "p1"})),
            (409, api.post("/api/v1/artifacts", json={"type_id": artifact_type, "external_id": "art-1"})),
            (400, api.get("/api/v1/artifacts", params={"filter": "uri = 'a\u0000b'"})),
            (400, api.post("/api/v1/artifacts", json={"type_id": artifact_type, "name": "x" * 300})),
        ]
    for status, answer in answers:
        assert answer.status_code == status, answer.text
        no_internals(answer.json()["message"])


def test_rest_driver_errors_are_worded_without_the_drivers_text():
    from sqlalchemy.exc import DataError, IntegrityError

    from mlineage.metadata import db_errors

    class Orig(Exception):
        pass

    unique = IntegrityError("INSERT ...", {}, Orig("UNIQUE constraint failed: executions.type_id, executions.name"))
    assert db_errors.integrity_error(unique).message.startswith("Given node already exists: another execution")
    value = DataError("INSERT ...", {}, Orig('value too long for type character varying(255)'))
    assert "longer than 255 characters" in db_errors.data_error(value).message
    nul = DataError("SELECT ...", {}, Orig("PostgreSQL text fields cannot contain NUL (0x00) bytes"))
    assert "NUL character" in db_errors.data_error(nul).message
    for error in (db_errors.integrity_error(unique), db_errors.data_error(value), db_errors.data_error(nul)):
        no_internals(error.message)


def test_the_catch_all_words_unwrapped_driver_errors_too():
    from mlineage import errors as codes
    from mlineage.api.rest.errors import _driver_error_words

    for code in (codes.ALREADY_EXISTS, codes.INVALID_ARGUMENT, codes.UNAVAILABLE):
        no_internals(_driver_error_words(code))
