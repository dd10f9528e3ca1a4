"""Import ml_metadata and mlineage in ONE process, as a TFX step does, and use both.

Run under the ml-metadata environment (protobuf 4.25) with the repository on
PYTHONPATH; prints a JSON summary for tests/test_mlmd_and_mlineage_in_one_process.py:

    PYTHONPATH=. .venvs/mlmd/bin/python tests/mlmd_and_mlineage_in_one_process.py WORK_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import google.protobuf
from ml_metadata.metadata_store import MetadataStore
from ml_metadata.proto import metadata_store_pb2 as mlmd_pb

import mlineage
from mlineage.proto import metadata_store_pb2 as ml_pb


def convert(message, target_class):
    """The same wire bytes read as the other package's message."""
    return target_class.FromString(message.SerializeToString())


def main(work_dir: Path) -> dict:
    config = mlmd_pb.ConnectionConfig()
    config.sqlite.filename_uri = str(work_dir / "mlmd.db")
    config.sqlite.connection_mode = mlmd_pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    mlmd_store = MetadataStore(config)
    ours = mlineage.connect(f"sqlite:///{work_dir / 'mlineage.db'}")

    # An artifact written by MLMD in-process ...
    model_type = mlmd_pb.ArtifactType(name="Model", base_type=mlmd_pb.ArtifactType.MODEL)
    model_type.properties["acc"] = mlmd_pb.DOUBLE
    mlmd_type_id = mlmd_store.put_artifact_type(model_type)
    model = mlmd_pb.Artifact(type_id=mlmd_type_id, name="m1", uri="/models/m1", state=mlmd_pb.Artifact.LIVE)
    model.properties["acc"].double_value = 0.93
    model.custom_properties["framework"].string_value = "tf"
    model.custom_properties["config"].struct_value.update({"layers": 3, "act": "relu"})
    [mlmd_artifact_id] = mlmd_store.put_artifacts([model])

    # ... copied into mlineage: the type, then the artifact with its type id remapped.
    [stored_type] = mlmd_store.get_artifact_types_by_id([mlmd_type_id])
    copied_type = convert(stored_type, ml_pb.ArtifactType)
    copied_type.ClearField("id")
    our_type_id = ours.put_artifact_type(copied_type)
    [stored] = mlmd_store.get_artifacts_by_id([mlmd_artifact_id])
    copied = convert(stored, ml_pb.Artifact)
    for field in ("id", "type", "create_time_since_epoch", "last_update_time_since_epoch"):
        copied.ClearField(field)
    copied.type_id = our_type_id
    [our_artifact_id] = ours.put_artifacts([copied])
    [in_mlineage] = ours.get_artifacts_by_id([our_artifact_id])

    # ... and back again into MLMD under another name.
    back = convert(in_mlineage, mlmd_pb.Artifact)
    for field in ("id", "type", "create_time_since_epoch", "last_update_time_since_epoch"):
        back.ClearField(field)
    back.type_id = mlmd_type_id
    back.name = "m1-roundtrip"
    [back_id] = mlmd_store.put_artifacts([back])
    [returned] = mlmd_store.get_artifacts_by_id([back_id])

    # An mlineage gRPC server in this process, and MLMD's gRPC client talking to it.
    from mlineage.api.grpc.server import build_server

    server, port = build_server(ours, host="127.0.0.1", port=0, max_workers=4)
    server.start()
    try:
        client = MetadataStore(mlmd_pb.MetadataStoreClientConfig(host="127.0.0.1", port=port))
        over_grpc = client.get_artifact_by_type_and_name("Model", "m1")
    finally:
        server.stop(grace=None)
    result = {
        "protobuf": google.protobuf.__version__,
        "packages": [mlmd_pb.Artifact.DESCRIPTOR.full_name, ml_pb.Artifact.DESCRIPTOR.full_name],
        "mlineage_type": {
            "name": ours.get_artifact_types_by_id([our_type_id])[0].name,
            "base_type": ml_pb.ArtifactType.SystemDefinedBaseType.Name(
                ours.get_artifact_types_by_id([our_type_id])[0].base_type
            ),
        },
        "mlineage_artifact": {
            "name": in_mlineage.name,
            "uri": in_mlineage.uri,
            "type": in_mlineage.type,
            "state": ml_pb.Artifact.State.Name(in_mlineage.state),
            "acc": in_mlineage.properties["acc"].double_value,
            "framework": in_mlineage.custom_properties["framework"].string_value,
            "config": dict(in_mlineage.custom_properties["config"].struct_value),
            "times_set": in_mlineage.create_time_since_epoch > 0,
        },
        "mlmd_roundtrip_same_values": (
            returned.uri == model.uri
            and returned.properties == model.properties
            and returned.custom_properties == model.custom_properties
        ),
        "over_grpc": {"uri": over_grpc.uri, "acc": over_grpc.properties["acc"].double_value} if over_grpc else None,
    }
    ours.close()
    return result


if __name__ == "__main__":
    json.dump(main(Path(sys.argv[1])), sys.stdout, sort_keys=True)
