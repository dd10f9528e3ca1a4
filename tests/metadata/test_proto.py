"""The generated protobuf modules: fresh, importable, and usable beside ml_metadata."""

from __future__ import annotations

import os
import runpy
import shutil
import subprocess
import sys
import textwrap

import pytest
from google.protobuf import struct_pb2
from paths import REPO_ROOT, SUPPORT

from mlineage.proto import (
    SYSTEM_TYPE_BASE_TYPES,
    SYSTEM_TYPE_NAMES,
    metadata_store_pb2,
    metadata_store_service_pb2,
    metadata_store_service_pb2_grpc,
)

mlmd_python = runpy.run_path(str(SUPPORT / "descriptor_dump.py"))["mlmd_python"]


def _artifact() -> metadata_store_pb2.Artifact:
    artifact = metadata_store_pb2.Artifact(
        type_id=10, uri="/data/examples", name="examples", state=metadata_store_pb2.Artifact.LIVE
    )
    artifact.properties["span"].int_value = 3
    artifact.custom_properties["accuracy"].double_value = 0.91
    artifact.custom_properties["cfg"].struct_value.update({"lr": 0.1, "layers": [64, 32]})
    artifact.custom_properties["schema"].proto_value.Pack(struct_pb2.Value(string_value="s"))
    return artifact


def test_generated_code_is_up_to_date_with_protos():
    """scripts/gen_protos.py --check regenerates (in its own grpcio-tools venv) and compares."""
    if shutil.which("uv") is None:
        pytest.skip("uv is needed to build the grpcio-tools==1.62.3 generation venv")
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "gen_protos.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_artifact_round_trips_under_current_protobuf():
    artifact = _artifact()
    parsed = metadata_store_pb2.Artifact.FromString(artifact.SerializeToString())
    assert parsed == artifact
    assert parsed.custom_properties["cfg"].struct_value["layers"][0] == 64
    assert parsed.custom_properties["schema"].proto_value.Is(struct_pb2.Value.DESCRIPTOR)


def test_proto2_defaults_match_mlmd():
    options = metadata_store_pb2.ListOperationOptions()
    assert options.max_result_size == 20
    assert options.order_by_field.field == options.OrderByField.ID
    assert options.order_by_field.is_asc is True
    assert metadata_store_pb2.LineageGraphQueryOptions().max_node_size == 20
    assert metadata_store_pb2.MigrationOptions().downgrade_to_schema_version == -1
    assert metadata_store_service_pb2.PutArtifactTypeRequest().all_fields_match is True


def test_package_is_ours_not_ml_metadata():
    assert metadata_store_pb2.DESCRIPTOR.package == "mlineage.v1"
    assert metadata_store_service_pb2.DESCRIPTOR.services_by_name["MetadataStoreService"].full_name == (
        "mlineage.v1.MetadataStoreService"
    )


def test_service_stub_and_servicer_cover_52_rpcs():
    methods = metadata_store_service_pb2.DESCRIPTOR.services_by_name["MetadataStoreService"].methods
    assert len(methods) == 52
    servicer = metadata_store_service_pb2_grpc.MetadataStoreServiceServicer
    assert all(hasattr(servicer, method.name) for method in methods)


def test_system_type_names_cover_every_base_type_and_invert():
    artifact_bases = metadata_store_pb2.ArtifactType.SystemDefinedBaseType
    execution_bases = metadata_store_pb2.ExecutionType.SystemDefinedBaseType
    expected_keys = {("artifact", v) for v in artifact_bases.values() if v != artifact_bases.Value("UNSET")}
    expected_keys |= {
        ("execution", v) for v in execution_bases.values() if v != execution_bases.Value("UNSET")
    }
    assert set(SYSTEM_TYPE_NAMES) == expected_keys
    assert SYSTEM_TYPE_NAMES[("artifact", artifact_bases.Value("MODEL"))] == "mlmd.Model"
    assert SYSTEM_TYPE_NAMES[("execution", execution_bases.Value("DEPLOY"))] == "mlmd.Deploy"
    assert {name: key for key, name in SYSTEM_TYPE_NAMES.items()} == SYSTEM_TYPE_BASE_TYPES


_BESIDE_ML_METADATA = textwrap.dedent(
    """
    import google.protobuf
    from ml_metadata.proto import metadata_store_pb2 as mlmd
    from ml_metadata.proto import metadata_store_service_pb2 as mlmd_service
    from mlineage.proto import metadata_store_pb2 as ours
    from mlineage.proto import metadata_store_service_pb2 as ours_service

    assert google.protobuf.__version__.startswith("4."), google.protobuf.__version__
    artifact = ours.Artifact(id=7, type_id=10, uri="/m", name="m", state=ours.Artifact.LIVE)
    artifact.custom_properties["acc"].double_value = 0.5
    artifact.custom_properties["cfg"].struct_value.update({"lr": 0.1})
    theirs = mlmd.Artifact.FromString(artifact.SerializeToString())
    assert (theirs.id, theirs.uri, theirs.name) == (7, "/m", "m")
    assert theirs.state == mlmd.Artifact.LIVE
    assert theirs.custom_properties["acc"].double_value == 0.5
    assert theirs.custom_properties["cfg"].struct_value["lr"] == 0.1

    request = mlmd_service.PutArtifactsRequest(artifacts=[theirs])
    back = ours_service.PutArtifactsRequest.FromString(request.SerializeToString())
    assert back.artifacts[0] == artifact
    print("ok")
    """
)


@pytest.mark.mlmd
def test_generated_code_imports_beside_ml_metadata_under_protobuf_4_25():
    python = mlmd_python()
    if python is None:
        pytest.skip("no ml-metadata environment: set MLINEAGE_MLMD_PYTHON or create .venvs/mlmd")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [python, "-c", _BESIDE_ML_METADATA], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
