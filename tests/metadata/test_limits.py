"""The limits of metadata/limits.py: checked before any SQL, so SQLite and PostgreSQL answer alike.

Names (255 characters, MLMD's VARCHAR(255)), URIs and descriptions (65,535), no NUL characters in
text, struct values as deep as MLMD takes (32 levels of objects) and one node size limit, on the
Store, over gRPC (in-process server on the same store) and over REST.
"""

from __future__ import annotations

import contextlib

import grpc
import httpx
import pytest
from google.protobuf import struct_pb2
from rest_server import http_client

from mlineage.api.grpc.server import build_server
from mlineage.errors import InvalidArgumentError, NotFoundError
from mlineage.metadata.limits import DEFAULT_MAX_NODE_BYTES, MAX_NAME_LENGTH, MAX_TEXT_LENGTH
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metadata_store_service_pb2 as svc


def nested_struct(depth: int) -> struct_pb2.Struct:
    """{"x": {"x": … {"leaf": 1}}} with ``depth`` objects."""
    root = struct_pb2.Struct()
    current = root
    for _ in range(depth - 1):
        current = current.fields["x"].struct_value
    current.fields["leaf"].number_value = 1
    return root


def nested_json(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"x": value}
    return value


@pytest.fixture
def type_id(store) -> int:
    artifact_type = pb.ArtifactType(name="Limited")
    artifact_type.properties["p"] = pb.STRING
    return store.put_artifact_type(artifact_type)


def refused(store, type_id: int, artifact: pb.Artifact, words: str) -> None:
    with pytest.raises(InvalidArgumentError) as failure:
        store.put_artifacts([artifact])
    assert words in failure.value.message, failure.value.message
    assert "constraint" not in failure.value.message and "varying" not in failure.value.message
    assert store.get_artifacts() == []


# --- text ----------------------------------------------------------------------------------------


def test_names_and_external_ids_take_255_characters_and_no_more_on_both_databases(store, type_id):
    longest = "n" * MAX_NAME_LENGTH
    [artifact_id] = store.put_artifacts([pb.Artifact(type_id=type_id, name=longest, external_id=longest)])
    assert store.get_artifacts_by_id([artifact_id])[0].name == longest
    for field in ("name", "external_id"):
        for length in (MAX_NAME_LENGTH + 1, 100_000):
            with pytest.raises(InvalidArgumentError, match=f"{length:,} characters long; at most 255"):
                store.put_artifacts([pb.Artifact(type_id=type_id, **{field: "m" * length})])
    with pytest.raises(InvalidArgumentError, match="at most 255"):
        store.put_contexts([pb.Context(type_id=store.put_context_type(pb.ContextType(name="C")), name="c" * 256)])
    assert [a.id for a in store.get_artifacts()] == [artifact_id]


def test_uris_take_65535_characters(store, type_id):
    [artifact_id] = store.put_artifacts([pb.Artifact(type_id=type_id, uri="u" * MAX_TEXT_LENGTH)])
    assert len(store.get_artifacts_by_id([artifact_id])[0].uri) == MAX_TEXT_LENGTH
    with pytest.raises(InvalidArgumentError, match="uri of artifact #0 is 65,536 characters"):
        store.put_artifacts([pb.Artifact(type_id=type_id, uri="u" * (MAX_TEXT_LENGTH + 1))])


def test_nul_characters_are_refused_in_every_text_field_on_both_databases(store, type_id):
    for fields in ({"name": "a\0b"}, {"uri": "/a\0"}, {"external_id": "\0"}):
        refused(store, type_id, pb.Artifact(type_id=type_id, **fields), "NUL character")
    named = pb.Artifact(type_id=type_id)
    named.custom_properties["k\0"].int_value = 1
    refused(store, type_id, named, "NUL character")
    valued = pb.Artifact(type_id=type_id)
    valued.properties["p"].string_value = "v\0v"
    refused(store, type_id, valued, "NUL character")
    for bad_type in (pb.ArtifactType(name="T\0"), pb.ArtifactType(name="T", version="v\0"),
                     pb.ArtifactType(name="T", description="d\0"), pb.ArtifactType(name="t" * 256)):  # fmt: skip
        with pytest.raises(InvalidArgumentError):
            store.put_artifact_type(bad_type)
    with pytest.raises(InvalidArgumentError):
        store.put_types(context_types=[pb.ContextType(name="ok"), pb.ContextType(name="no\0")])
    assert store.get_context_types() == []


def test_a_struct_value_may_hold_nul_characters(store, type_id):
    artifact = pb.Artifact(type_id=type_id)
    artifact.custom_properties["s"].struct_value.update({"k\0": "v\0"})
    [artifact_id] = store.put_artifacts([artifact])
    assert store.get_artifacts_by_id([artifact_id])[0].custom_properties == artifact.custom_properties


def test_reads_by_text_with_nul_find_nothing_on_both_databases(store, type_id):
    store.put_artifacts([pb.Artifact(type_id=type_id, name="a", uri="/a", external_id="e")])
    assert store.get_artifacts_by_uri("/a\0") == []
    assert store.get_artifact_by_type_and_name("Limited", "a\0") is None
    assert store.get_artifacts_by_type("Limited\0") == []
    with pytest.raises(NotFoundError):
        store.get_artifacts_by_external_ids(["e\0"])
    assert [a.external_id for a in store.get_artifacts_by_external_ids(["e", "x\0"])] == ["e"]
    with pytest.raises(NotFoundError):
        store.get_artifact_type("Limited\0")


# --- struct depth --------------------------------------------------------------------------------


def test_structs_as_deep_as_mlmd_takes_are_stored_and_deeper_ones_refused(store, type_id):
    artifact = pb.Artifact(type_id=type_id)
    artifact.custom_properties["s"].struct_value.CopyFrom(nested_struct(32))
    [artifact_id] = store.put_artifacts([artifact])
    assert store.get_artifacts_by_id([artifact_id])[0].custom_properties == artifact.custom_properties
    for depth in (33, 400):
        deep = pb.Artifact(type_id=type_id)
        deep.custom_properties["s"].struct_value.CopyFrom(nested_struct(depth))
        with pytest.raises(InvalidArgumentError, match="nested too deeply: at most 32 levels of objects"):
            store.put_artifacts([deep])


# --- node size -----------------------------------------------------------------------------------


def test_a_node_larger_than_the_limit_is_refused_on_every_write(store, type_id):
    big = pb.Artifact(type_id=type_id)
    big.custom_properties["blob"].string_value = "x" * DEFAULT_MAX_NODE_BYTES
    execution_type = store.put_execution_type(pb.ExecutionType(name="Run"))
    calls = [
        lambda: store.put_artifacts([big]),
        lambda: store.put_execution(pb.Execution(type_id=execution_type), [(big, None)], []),
        lambda: store.put_lineage_subgraph([], [big], [], []),
    ]
    for call in calls:
        with pytest.raises(InvalidArgumentError, match=f"bytes serialized; a node may have at most {DEFAULT_MAX_NODE_BYTES:,}"):
            call()
    assert store.get_artifacts() == [] and store.get_executions() == []


def test_masked_updates_cannot_grow_a_node_past_the_limit(store, type_id):
    half = "x" * (DEFAULT_MAX_NODE_BYTES // 2 + 10)
    first = pb.Artifact(type_id=type_id)
    first.custom_properties["a"].string_value = half
    [artifact_id] = store.put_artifacts([first])
    second = pb.Artifact(id=artifact_id, type_id=type_id)
    second.custom_properties["b"].string_value = half
    with pytest.raises(InvalidArgumentError, match="a node may have at most"):
        store.put_artifacts([second], field_mask_paths=["custom_properties.b"])
    assert set(store.get_artifacts_by_id([artifact_id])[0].custom_properties) == {"a"}


def test_the_node_limit_is_configurable(store_url, type_id, monkeypatch):
    artifact = pb.Artifact(type_id=type_id)
    artifact.custom_properties["blob"].string_value = "x" * 5000
    with Store(store_url, max_node_bytes=4096) as small:
        assert small.max_node_bytes == 4096
        with pytest.raises(InvalidArgumentError, match="at most 4,096"):
            small.put_artifacts([artifact])
    monkeypatch.setenv("MLINEAGE_MAX_NODE_BYTES", "2048")
    with Store(store_url) as from_env:
        assert from_env.max_node_bytes == 2048
    monkeypatch.setenv("MLINEAGE_MAX_NODE_BYTES", "lots")
    with pytest.raises(InvalidArgumentError, match="MLINEAGE_MAX_NODE_BYTES"):
        Store(store_url)


# --- over gRPC -----------------------------------------------------------------------------------


@contextlib.contextmanager
def grpc_channel(store: Store):
    server, port = build_server(store, host="127.0.0.1", port=0)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
    finally:
        server.stop(None)


def test_grpc_answers_invalid_argument_in_words_for_each_limit(store, type_id):
    with grpc_channel(store) as channel:
        put = channel.unary_unary(
            "/ml_metadata.MetadataStoreService/PutArtifacts",
            request_serializer=svc.PutArtifactsRequest.SerializeToString,
            response_deserializer=svc.PutArtifactsResponse.FromString,
        )
        deep = svc.PutArtifactsRequest()
        deep.artifacts.add(type_id=type_id).custom_properties["s"].struct_value.CopyFrom(nested_struct(33))
        nul = svc.PutArtifactsRequest(artifacts=[pb.Artifact(type_id=type_id, name="a\0")])
        long = svc.PutArtifactsRequest(artifacts=[pb.Artifact(type_id=type_id, name="a" * 256)])
        for request, words in ((deep, "more than 100 levels deep"), (nul, "NUL"), (long, "at most 255")):
            with pytest.raises(grpc.RpcError) as failure:
                put(request, timeout=30)
            assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT, failure.value.details()
            assert words in failure.value.details()
        ok = svc.PutArtifactsRequest()
        ok.artifacts.add(type_id=type_id).custom_properties["s"].struct_value.CopyFrom(nested_struct(32))
        assert len(put(ok, timeout=30).artifact_ids) == 1


# --- over REST -----------------------------------------------------------------------------------


@pytest.fixture
def api(store) -> httpx.Client:
    with http_client(store) as client:
        yield client


def bad_request(answer: httpx.Response, words: str) -> None:
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["code"] == "INVALID_ARGUMENT" and words in body["message"], body
    for internal in ("recursion", "constraint", "varying", "0x00", "psycopg", "sqlite"):
        assert internal not in body["message"].lower(), body


def test_rest_refuses_the_same_requests_on_both_databases(api, type_id):
    bad_request(api.post("/api/v1/artifacts", json={"type_id": type_id, "name": "a\u0000b"}), "NUL character")
    bad_request(api.post("/api/v1/artifacts", json={"type_id": type_id, "name": "n" * 100_000}), "at most 255")
    bad_request(api.post("/api/v1/artifact_types", json={"name": "T\u0000"}), "NUL character")
    blob = {"blob": {"string_value": "x" * 10_000_000}}
    bad_request(api.post("/api/v1/artifacts", json={"type_id": type_id, "custom_properties": blob}), "bytes serialized")
    deep = {"type_id": type_id, "custom_properties": {"s": {"struct_value": nested_json(33)}}}
    bad_request(api.post("/api/v1/artifacts", json=deep), "at most 32 levels of objects")
    deeper = {"type_id": type_id, "custom_properties": {"s": {"struct_value": nested_json(90)}}}
    bad_request(api.post("/api/v1/artifacts", json=deeper), "levels")
    for depth in (200, 5000):
        body = "[" * depth + "]" * depth
        bad_request(api.post("/api/v1/artifacts", content=body), "more than 100 levels deep")
    ok = {"type_id": type_id, "custom_properties": {"s": {"struct_value": nested_json(32)}}}
    assert api.post("/api/v1/artifacts", json=ok).status_code == 201
    assert len(api.get("/api/v1/artifacts").json()["artifacts"]) == 1


def test_openapi_states_the_limits(api):
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    artifact = schemas["Artifact"]["properties"]
    assert artifact["name"]["maxLength"] == artifact["external_id"]["maxLength"] == MAX_NAME_LENGTH
    assert artifact["uri"]["maxLength"] == MAX_TEXT_LENGTH
    assert artifact["custom_properties"]["propertyNames"] == {"maxLength": MAX_NAME_LENGTH}
    assert schemas["ContextType"]["properties"]["version"]["maxLength"] == MAX_NAME_LENGTH
