"""Update masks: MLMD's surface ignores paths that name no field (as MLMD does); REST refuses them."""

from __future__ import annotations

import pytest
from conftest import BACKENDS, postgres_database
from grpc_server import mlineage_server, require_mlmd_python, run_mlmd_scenarios
from mysql_databases import mysql_database
from rest_server import http_client
from test_grpc_mlmd_client import assert_same_as_mlmd

from mlineage.proto import metadata_store_pb2 as pb

# MLMD's own tests send these beside valid paths and expect the valid ones applied.
IGNORED_BY_MLMD = ["", "invalid_field_mask_path", "uri.x", "last_known_state", "Uri", " uri"]


@pytest.fixture
def artifact(store):
    artifact_type = pb.ArtifactType(name="Masked")
    artifact_type.properties["p"] = pb.INT
    type_id = store.put_artifact_type(artifact_type)
    original = pb.Artifact(type_id=type_id, uri="/old", name="a", state=pb.Artifact.LIVE)
    original.properties["p"].int_value = 1
    original.custom_properties["c"].string_value = "c"
    [artifact_id] = store.put_artifacts([original])
    return type_id, artifact_id


def _update(type_id: int, artifact_id: int) -> pb.Artifact:
    update = pb.Artifact(id=artifact_id, type_id=type_id, uri="/new", name="renamed")
    update.properties["p"].int_value = 5
    update.custom_properties["c"].string_value = "C"
    return update


def test_paths_naming_no_field_are_ignored_and_the_valid_ones_applied(store, artifact):
    type_id, artifact_id = artifact
    store.put_artifacts([_update(type_id, artifact_id)], field_mask_paths=[*IGNORED_BY_MLMD, "uri"])
    [read] = store.get_artifacts_by_id([artifact_id])
    assert (read.uri, read.name, read.properties["p"].int_value, read.custom_properties["c"].string_value) == (
        "/new", "a", 1, "c",
    )  # fmt: skip


def test_a_mask_of_only_ignored_paths_changes_nothing(store, artifact):
    type_id, artifact_id = artifact
    [before] = store.get_artifacts_by_id([artifact_id])
    for path in IGNORED_BY_MLMD:
        assert store.put_artifacts([_update(type_id, artifact_id)], field_mask_paths=[path]) == [artifact_id]
    assert store.get_artifacts_by_id([artifact_id]) == [before]


def test_other_kinds_fields_are_ignored_on_executions_and_contexts(store):
    execution_type = store.put_execution_type(pb.ExecutionType(name="Run"))
    [execution_id] = store.put_executions([pb.Execution(type_id=execution_type, last_known_state=pb.Execution.RUNNING)])
    done = pb.Execution(id=execution_id, type_id=execution_type, last_known_state=pb.Execution.COMPLETE)
    store.put_executions([done], field_mask_paths=["state", "uri", "invalid"])
    assert store.get_executions_by_id([execution_id])[0].last_known_state == pb.Execution.RUNNING
    store.put_executions([done], field_mask_paths=["", "last_known_state"])
    assert store.get_executions_by_id([execution_id])[0].last_known_state == pb.Execution.COMPLETE
    context_type = store.put_context_type(pb.ContextType(name="Ctx"))
    [context_id] = store.put_contexts([pb.Context(type_id=context_type, name="c")])
    renamed = pb.Context(id=context_id, type_id=context_type, name="c2", external_id="x")
    store.put_contexts([renamed], field_mask_paths=["uri", "state", "bogus", "external_id"])
    read = store.get_contexts_by_id([context_id])[0]
    assert (read.name, read.external_id) == ("c", "x")


def test_rest_refuses_a_path_that_names_no_field_and_says_so_in_its_schema(store, artifact):
    type_id, artifact_id = artifact
    with http_client(store) as api:
        path = f"/api/v1/artifacts/{artifact_id}"
        for mask in ("invalid_field_mask_path", "uri,last_known_state", "uri.x"):
            answer = api.patch(path, params={"update_mask": mask}, json={"uri": "/x"})
            assert answer.status_code == 400, answer.text
            assert answer.json()["code"] == "INVALID_ARGUMENT" and "is not a field of Artifact" in answer.json()["message"]
        batch = {"artifacts": [{"id": str(artifact_id), "uri": "/y"}], "update_mask": "uri,bogus"}
        answer = api.post("/api/v1/artifacts:batchPut", json=batch)
        assert answer.status_code == 400 and answer.json()["code"] == "INVALID_ARGUMENT", answer.text
        assert api.get(path).json()["uri"] == "/old"
        assert api.patch(path, params={"update_mask": "uri"}, json={"uri": "/z"}).json()["uri"] == "/z"
        document = api.get("/openapi.json").json()
        patch = document["paths"]["/api/v1/artifacts/{id}"]["patch"]
        [mask_parameter] = [p for p in patch["parameters"] if p["name"] == "update_mask"]
        assert "MLMD's gRPC API ignores it" in mask_parameter["description"]


@pytest.mark.mlmd
@pytest.mark.parametrize("backend", [*BACKENDS, "mysql"])
def test_the_ml_metadata_client_sees_masks_handled_as_mlmd_handles_them(backend, tmp_path):
    python = require_mlmd_python()
    db = tmp_path if backend == "sqlite" else (
        mysql_database("mlineage_masks") if backend == "mysql" else postgres_database("mlineage_masks"))
    with mlineage_server(db) as server:
        out = run_mlmd_scenarios(python, server.target, ["update_masks"], reference=True)["update_masks"]
    result, reference = out["server"], out["reference"]
    assert result["empty_and_invalid_beside_uri"]["uri"] == "/new"
    assert result["only_invalid"]["uri"] == "/old" and result["whole_custom_map"]["custom_properties"] == {
        "c": "C", "new": 7,
    }  # fmt: skip
    assert result["unknown_property_present"] == "InvalidArgumentError"
    assert result["execution_after_valid_path"]["last_known_state"] == "COMPLETE"
    assert_same_as_mlmd(result, reference)
