"""A first end-to-end check that a store opens at head and round-trips an artifact on each backend."""

from mlineage import metadata_store_pb2 as pb


def test_new_store_has_mlmd_system_types_and_user_types_start_at_ten(store):
    type_id = store.put_artifact_type(pb.ArtifactType(name="Examples"))
    assert type_id == 10
    assert [t.name for t in store.get_artifact_types()] == ["Examples"]
    assert [t.id for t in store.get_artifact_types_by_id([1, 2, 3, 4])] == [1, 2, 3, 4]
    assert [t.name for t in store.get_artifact_types_by_id([1, 2, 3, 4])] == [
        "mlmd.Dataset",
        "mlmd.Model",
        "mlmd.Metrics",
        "mlmd.Statistics",
    ]


def test_artifact_round_trips_with_properties(store):
    artifact_type = pb.ArtifactType(name="Examples")
    artifact_type.properties["span"] = pb.INT
    type_id = store.put_artifact_type(artifact_type)
    artifact = pb.Artifact(type_id=type_id, uri="/data/1", name="e1")
    artifact.properties["span"].int_value = 3
    artifact.custom_properties["note"].string_value = "x"
    [artifact_id] = store.put_artifacts([artifact])
    [read] = store.get_artifacts_by_id([artifact_id])
    assert read.uri == "/data/1"
    assert read.type == "Examples"
    assert read.properties["span"].int_value == 3
    assert read.custom_properties["note"].string_value == "x"
    assert read.create_time_since_epoch > 0
