"""Artifacts, executions and contexts: writes, updates, masks and reads, as MLMD does them, on both backends."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import pytest
from google.protobuf import struct_pb2

from mlineage import metadata_store_pb2 as pb
from mlineage.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError

_names = itertools.count()


@dataclass(frozen=True)
class Kind:
    """One node kind and the store methods that serve it."""

    name: str
    type_message: type
    message: type

    def put_type(self, store, name: str = "T", version: str | None = None, **properties: int) -> int:
        message = self.type_message(name=name)
        if version is not None:
            message.version = version
        for key, data_type in properties.items():
            message.properties[key] = data_type
        return getattr(store, f"put_{self.name}_type")(message)

    def new(self, type_id: int, **fields):
        """A node message; contexts, whose name is required, get a fresh one unless given."""
        if self.name == "context" and "name" not in fields:
            fields["name"] = f"context-{next(_names)}"
        return self.message(type_id=type_id, **fields)

    def put(self, store, nodes, field_mask_paths=None) -> list[int]:
        return getattr(store, f"put_{self.name}s")(nodes, field_mask_paths=field_mask_paths)

    def by_id(self, store, ids) -> list:
        return getattr(store, f"get_{self.name}s_by_id")(ids)

    def read(self, store, node_id: int):
        [node] = self.by_id(store, [node_id])
        return node

    def by_type(self, store, type_name: str, type_version: str | None = None) -> list:
        return getattr(store, f"get_{self.name}s_by_type")(type_name, type_version)

    def by_type_and_name(self, store, type_name: str, name: str, type_version: str | None = None):
        return getattr(store, f"get_{self.name}_by_type_and_name")(type_name, name, type_version)

    def by_external_ids(self, store, external_ids) -> list:
        return getattr(store, f"get_{self.name}s_by_external_ids")(external_ids)


ARTIFACT = Kind("artifact", pb.ArtifactType, pb.Artifact)
EXECUTION = Kind("execution", pb.ExecutionType, pb.Execution)
CONTEXT = Kind("context", pb.ContextType, pb.Context)
ALL_KINDS = pytest.mark.parametrize("kind", [ARTIFACT, EXECUTION, CONTEXT], ids=lambda k: k.name)
NAMED_ON_INSERT_ONLY = pytest.mark.parametrize("kind", [ARTIFACT, EXECUTION], ids=lambda k: k.name)


def every_value_kind(values) -> None:
    """Fill a property map with one value of each kind MLMD knows.

    MLMD 1.17.1 on SQLite keeps six significant digits of a double; we keep all of them.
    """
    values["int"].int_value = 2**62 + 1
    values["double"].double_value = 1 / 3
    values["string"].string_value = "naïve ✓"
    values["bool"].bool_value = True
    values["struct"].struct_value.update({"layers": [64, 32], "name": "mlp", "nested": {"dropout": 0.5}})
    values["proto"].proto_value.Pack(pb.Artifact(uri="/packed", name="inside"))


EVERY_PROPERTY_TYPE = dict(int=pb.INT, double=pb.DOUBLE, string=pb.STRING, bool=pb.BOOLEAN, struct=pb.STRUCT,
                           proto=pb.PROTO)


def wait_a_millisecond() -> None:
    time.sleep(0.005)


# --- insert and read back ------------------------------------------------------------------------


@ALL_KINDS
def test_every_value_kind_round_trips_as_property_and_custom_property(store, kind):
    type_id = kind.put_type(store, **EVERY_PROPERTY_TYPE)
    node = kind.new(type_id, name="n1")
    every_value_kind(node.properties)
    every_value_kind(node.custom_properties)
    [node_id] = kind.put(store, [node])
    read = kind.read(store, node_id)
    assert read.properties == node.properties
    assert read.custom_properties == node.custom_properties
    assert read.properties["struct"].struct_value["nested"]["dropout"] == 0.5
    unpacked = pb.Artifact()
    assert read.custom_properties["proto"].proto_value.Unpack(unpacked) and unpacked.uri == "/packed"


def test_artifact_fields_round_trip(store):
    type_id = ARTIFACT.put_type(store, "Model")
    artifact = pb.Artifact(type_id=type_id, uri="/models/1", name="m1", external_id="ext-m1",
                           state=pb.Artifact.LIVE)
    [artifact_id] = store.put_artifacts([artifact])
    read = ARTIFACT.read(store, artifact_id)
    assert (read.id, read.type_id, read.type) == (artifact_id, type_id, "Model")
    assert (read.uri, read.name, read.external_id, read.state) == ("/models/1", "m1", "ext-m1", pb.Artifact.LIVE)


def test_execution_fields_round_trip(store):
    type_id = EXECUTION.put_type(store, "Trainer")
    execution = pb.Execution(type_id=type_id, name="run-1", external_id="ext-r1",
                             last_known_state=pb.Execution.RUNNING)
    [execution_id] = store.put_executions([execution])
    read = EXECUTION.read(store, execution_id)
    assert (read.id, read.type_id, read.type) == (execution_id, type_id, "Trainer")
    assert (read.name, read.external_id, read.last_known_state) == ("run-1", "ext-r1", pb.Execution.RUNNING)


def test_context_fields_round_trip(store):
    type_id = CONTEXT.put_type(store, "Pipeline")
    [context_id] = store.put_contexts([pb.Context(type_id=type_id, name="daily", external_id="ext-p")])
    read = CONTEXT.read(store, context_id)
    assert (read.id, read.type_id, read.type, read.name, read.external_id) == (
        context_id, type_id, "Pipeline", "daily", "ext-p",
    )


@ALL_KINDS
def test_unset_optional_fields_read_back_unset(store, kind):
    type_id = kind.put_type(store)
    [node_id] = kind.put(store, [kind.new(type_id)])
    read = kind.read(store, node_id)
    assert not read.HasField("external_id")
    assert not read.properties and not read.custom_properties
    if kind is not CONTEXT:
        assert not read.HasField("name")
    if kind is ARTIFACT:
        assert read.uri == "" and not read.HasField("state")
    if kind is EXECUTION:
        assert not read.HasField("last_known_state")


# --- server-set timestamps -----------------------------------------------------------------------


@ALL_KINDS
def test_insert_sets_both_times_to_now_in_milliseconds_ignoring_given_ones(store, kind):
    type_id = kind.put_type(store)
    before = int(time.time() * 1000)
    [node_id] = kind.put(store, [kind.new(type_id, create_time_since_epoch=5, last_update_time_since_epoch=6)])
    after = int(time.time() * 1000)
    read = kind.read(store, node_id)
    assert before <= read.create_time_since_epoch <= after
    assert read.last_update_time_since_epoch == read.create_time_since_epoch


@ALL_KINDS
def test_a_real_change_moves_the_update_time_but_not_the_create_time(store, kind):
    type_id = kind.put_type(store)
    [node_id] = kind.put(store, [kind.new(type_id)])
    inserted = kind.read(store, node_id)
    wait_a_millisecond()
    changed = kind.read(store, node_id)
    changed.custom_properties["note"].string_value = "changed"
    kind.put(store, [changed])
    read = kind.read(store, node_id)
    assert read.create_time_since_epoch == inserted.create_time_since_epoch
    assert read.last_update_time_since_epoch > inserted.last_update_time_since_epoch


@ALL_KINDS
def test_putting_a_node_unchanged_keeps_its_update_time(store, kind):
    type_id = kind.put_type(store, p=pb.INT)
    node = kind.new(type_id, external_id="e")
    node.properties["p"].int_value = 1
    [node_id] = kind.put(store, [node])
    inserted = kind.read(store, node_id)
    wait_a_millisecond()
    assert kind.put(store, [inserted]) == [node_id]
    assert kind.read(store, node_id) == inserted


@ALL_KINDS
def test_given_create_time_on_an_update_is_ignored(store, kind):
    type_id = kind.put_type(store)
    [node_id] = kind.put(store, [kind.new(type_id)])
    inserted = kind.read(store, node_id)
    update = kind.read(store, node_id)
    update.create_time_since_epoch = 1
    update.external_id = "now-with-an-external-id"
    kind.put(store, [update])
    assert kind.read(store, node_id).create_time_since_epoch == inserted.create_time_since_epoch


# --- uniqueness -----------------------------------------------------------------------------------


@ALL_KINDS
def test_name_is_unique_per_type(store, kind):
    type_id = kind.put_type(store)
    kind.put(store, [kind.new(type_id, name="same")])
    with pytest.raises(AlreadyExistsError):
        kind.put(store, [kind.new(type_id, name="same")])
    assert len(kind.by_type(store, "T")) == 1


@ALL_KINDS
def test_the_same_name_under_another_type_is_allowed(store, kind):
    first = kind.put_type(store, "First")
    second = kind.put_type(store, "Second")
    ids = kind.put(store, [kind.new(first, name="same"), kind.new(second, name="same")])
    assert [n.type for n in kind.by_id(store, ids)] == ["First", "Second"]


@ALL_KINDS
def test_the_same_name_under_another_version_of_a_type_is_allowed(store, kind):
    v1 = kind.put_type(store, version="1")
    v2 = kind.put_type(store, version="2")
    kind.put(store, [kind.new(v1, name="same"), kind.new(v2, name="same")])
    assert kind.by_type_and_name(store, "T", "same", "2").type_id == v2


@ALL_KINDS
def test_external_id_is_unique_across_types_of_a_kind(store, kind):
    first = kind.put_type(store, "First")
    second = kind.put_type(store, "Second")
    kind.put(store, [kind.new(first, external_id="ext")])
    with pytest.raises(AlreadyExistsError):
        kind.put(store, [kind.new(second, external_id="ext")])


def test_one_external_id_may_name_an_artifact_an_execution_and_a_context(store):
    store.put_artifacts([pb.Artifact(type_id=ARTIFACT.put_type(store), external_id="ext")])
    store.put_executions([pb.Execution(type_id=EXECUTION.put_type(store), external_id="ext")])
    store.put_contexts([pb.Context(type_id=CONTEXT.put_type(store), name="c", external_id="ext")])
    assert [len(store.get_artifacts_by_external_ids(["ext"])), len(store.get_executions_by_external_ids(["ext"])),
            len(store.get_contexts_by_external_ids(["ext"]))] == [1, 1, 1]


@ALL_KINDS
def test_updating_to_an_external_id_in_use_is_already_exists(store, kind):
    type_id = kind.put_type(store)
    kind.put(store, [kind.new(type_id, external_id="taken")])
    [node_id] = kind.put(store, [kind.new(type_id)])
    node = kind.read(store, node_id)
    node.external_id = "taken"
    with pytest.raises(AlreadyExistsError):
        kind.put(store, [node])
    assert not kind.read(store, node_id).HasField("external_id")


# --- invalid nodes --------------------------------------------------------------------------------


def test_context_without_a_name_is_invalid_argument(store):
    type_id = CONTEXT.put_type(store)
    with pytest.raises(InvalidArgumentError):
        store.put_contexts([pb.Context(type_id=type_id)])
    with pytest.raises(InvalidArgumentError):
        store.put_contexts([pb.Context(type_id=type_id, name="")])


@ALL_KINDS
def test_unknown_type_id_is_not_found(store, kind):
    with pytest.raises(NotFoundError):
        kind.put(store, [kind.new(999)])


@ALL_KINDS
def test_type_id_of_another_kind_is_not_found(store, kind):
    other = ARTIFACT if kind is not ARTIFACT else EXECUTION
    with pytest.raises(NotFoundError):
        kind.put(store, [kind.new(other.put_type(store))])


@ALL_KINDS
def test_missing_type_id_is_invalid_argument(store, kind):
    node = kind.new(0)
    node.ClearField("type_id")
    with pytest.raises(InvalidArgumentError):
        kind.put(store, [node])


@ALL_KINDS
def test_undeclared_property_is_invalid_argument(store, kind):
    type_id = kind.put_type(store, declared=pb.INT)
    node = kind.new(type_id)
    node.properties["undeclared"].int_value = 1
    with pytest.raises(InvalidArgumentError):
        kind.put(store, [node])


@ALL_KINDS
def test_property_of_the_wrong_value_type_is_invalid_argument(store, kind):
    type_id = kind.put_type(store, declared=pb.INT)
    node = kind.new(type_id)
    node.properties["declared"].string_value = "1"
    with pytest.raises(InvalidArgumentError):
        kind.put(store, [node])


@ALL_KINDS
def test_unset_property_value_is_invalid_argument(store, kind):
    type_id = kind.put_type(store, declared=pb.INT)
    node = kind.new(type_id)
    node.properties["declared"].SetInParent()
    with pytest.raises(InvalidArgumentError):
        kind.put(store, [node])


@ALL_KINDS
def test_unset_custom_property_value_is_invalid_argument(store, kind):
    # MLMD 1.17.1 aborts the process here ("Unexpected oneof"); we refuse the request instead.
    type_id = kind.put_type(store)
    node = kind.new(type_id)
    node.custom_properties["empty"].SetInParent()
    with pytest.raises(InvalidArgumentError):
        kind.put(store, [node])


@ALL_KINDS
def test_a_custom_property_may_share_a_declared_property_name_with_another_type(store, kind):
    type_id = kind.put_type(store, declared=pb.INT)
    node = kind.new(type_id)
    node.custom_properties["declared"].string_value = "custom properties are free-form"
    [node_id] = kind.put(store, [node])
    assert kind.read(store, node_id).custom_properties["declared"].string_value.startswith("custom")


# --- updates without a mask -----------------------------------------------------------------------


def test_artifact_update_replaces_uri_state_and_both_property_maps(store):
    type_id = ARTIFACT.put_type(store, a=pb.INT, b=pb.INT)
    artifact = pb.Artifact(type_id=type_id, uri="/old", state=pb.Artifact.PENDING, external_id="e")
    artifact.properties["a"].int_value = 1
    artifact.properties["b"].int_value = 2
    artifact.custom_properties["x"].string_value = "x"
    [artifact_id] = store.put_artifacts([artifact])
    update = pb.Artifact(id=artifact_id, type_id=type_id, uri="/new", state=pb.Artifact.LIVE)
    update.properties["b"].int_value = 20
    update.custom_properties["y"].string_value = "y"
    store.put_artifacts([update])
    read = ARTIFACT.read(store, artifact_id)
    assert (read.uri, read.state) == ("/new", pb.Artifact.LIVE)
    assert dict(read.properties) == {"b": update.properties["b"]}
    assert dict(read.custom_properties) == {"y": update.custom_properties["y"]}
    assert not read.external_id


def test_artifact_update_without_uri_or_state_clears_them(store):
    type_id = ARTIFACT.put_type(store)
    [artifact_id] = store.put_artifacts([pb.Artifact(type_id=type_id, uri="/old", state=pb.Artifact.LIVE)])
    store.put_artifacts([pb.Artifact(id=artifact_id, type_id=type_id)])
    read = ARTIFACT.read(store, artifact_id)
    assert (read.uri, read.state) == ("", pb.Artifact.UNKNOWN)


def test_execution_update_replaces_the_last_known_state(store):
    type_id = EXECUTION.put_type(store)
    [execution_id] = store.put_executions([pb.Execution(type_id=type_id, last_known_state=pb.Execution.RUNNING)])
    store.put_executions([pb.Execution(id=execution_id, type_id=type_id, last_known_state=pb.Execution.COMPLETE)])
    assert EXECUTION.read(store, execution_id).last_known_state == pb.Execution.COMPLETE


@ALL_KINDS
def test_an_update_need_not_repeat_the_type_id(store, kind):
    type_id = kind.put_type(store)
    [node_id] = kind.put(store, [kind.new(type_id, name="n")])
    update = kind.message(id=node_id, name="n", external_id="added")
    assert kind.put(store, [update]) == [node_id]
    read = kind.read(store, node_id)
    assert (read.type_id, read.external_id) == (type_id, "added")


@NAMED_ON_INSERT_ONLY
def test_a_name_given_on_insert_never_changes(store, kind):
    type_id = kind.put_type(store)
    [node_id] = kind.put(store, [kind.new(type_id, name="original")])
    kind.put(store, [kind.message(id=node_id, type_id=type_id, name="renamed")])
    kind.put(store, [kind.message(id=node_id, type_id=type_id)])
    assert kind.read(store, node_id).name == "original"


@NAMED_ON_INSERT_ONLY
def test_a_node_inserted_without_a_name_cannot_get_one_later(store, kind):
    type_id = kind.put_type(store)
    [node_id] = kind.put(store, [kind.new(type_id)])
    kind.put(store, [kind.message(id=node_id, type_id=type_id, name="late")])
    kind.put(store, [kind.message(id=node_id, type_id=type_id, name="late")], field_mask_paths=["name"])
    assert not kind.read(store, node_id).name


def test_a_context_can_be_renamed(store):
    type_id = CONTEXT.put_type(store)
    [context_id] = store.put_contexts([pb.Context(type_id=type_id, name="before")])
    store.put_contexts([pb.Context(id=context_id, type_id=type_id, name="after")])
    assert CONTEXT.read(store, context_id).name == "after"
    assert store.get_context_by_type_and_name("T", "before") is None


def test_renaming_a_context_onto_a_taken_name_is_already_exists(store):
    type_id = CONTEXT.put_type(store)
    [first, _] = store.put_contexts([pb.Context(type_id=type_id, name="a"), pb.Context(type_id=type_id, name="b")])
    with pytest.raises(AlreadyExistsError):
        store.put_contexts([pb.Context(id=first, type_id=type_id, name="b")])
    assert CONTEXT.read(store, first).name == "a"


def test_a_context_update_without_a_name_is_invalid_argument(store):
    type_id = CONTEXT.put_type(store)
    [context_id] = store.put_contexts([pb.Context(type_id=type_id, name="kept")])
    with pytest.raises(InvalidArgumentError):
        store.put_contexts([pb.Context(id=context_id, type_id=type_id)])
    assert CONTEXT.read(store, context_id).name == "kept"


@ALL_KINDS
def test_update_of_a_missing_id_is_invalid_argument(store, kind):
    type_id = kind.put_type(store)
    with pytest.raises(InvalidArgumentError):
        kind.put(store, [kind.new(type_id, id=999)])


@ALL_KINDS
def test_changing_the_type_id_of_a_node_is_invalid_argument(store, kind):
    first = kind.put_type(store, "First")
    second = kind.put_type(store, "Second")
    [node_id] = kind.put(store, [kind.new(first, name="n")])
    with pytest.raises(InvalidArgumentError):
        kind.put(store, [kind.new(second, id=node_id, name="n")])
    assert kind.read(store, node_id).type_id == first


@ALL_KINDS
def test_ids_are_index_aligned_in_a_batch_mixing_inserts_and_updates(store, kind):
    type_id = kind.put_type(store)
    [existing] = kind.put(store, [kind.new(type_id, name="existing")])
    ids = kind.put(
        store,
        [
            kind.new(type_id, name="new-1"),
            kind.new(type_id, id=existing, name="existing", external_id="updated"),
            kind.new(type_id, name="new-2"),
        ],
    )
    assert ids[1] == existing
    assert len(set(ids)) == 3
    assert [kind.read(store, i).name for i in ids] == ["new-1", "existing", "new-2"]
    assert kind.read(store, existing).external_id == "updated"


# --- updates with a mask --------------------------------------------------------------------------


@pytest.fixture
def masked_artifact(store):
    """An artifact with a uri, two properties and two custom properties; returns (type_id, id)."""
    type_id = ARTIFACT.put_type(store, a=pb.INT, b=pb.INT)
    artifact = pb.Artifact(type_id=type_id, uri="/old", state=pb.Artifact.LIVE)
    artifact.properties["a"].int_value = 1
    artifact.properties["b"].int_value = 2
    artifact.custom_properties["c"].string_value = "c"
    artifact.custom_properties["d"].string_value = "d"
    [artifact_id] = store.put_artifacts([artifact])
    return type_id, artifact_id


def summary(artifact: pb.Artifact) -> tuple:
    return (
        artifact.uri,
        artifact.state,
        {k: v.int_value for k, v in artifact.properties.items()},
        {k: v.string_value for k, v in artifact.custom_properties.items()},
    )


def test_mask_uri_changes_only_the_uri(store, masked_artifact):
    type_id, artifact_id = masked_artifact
    store.put_artifacts([pb.Artifact(id=artifact_id, type_id=type_id, uri="/new")], field_mask_paths=["uri"])
    assert summary(ARTIFACT.read(store, artifact_id)) == (
        "/new", pb.Artifact.LIVE, {"a": 1, "b": 2}, {"c": "c", "d": "d"},
    )


def test_mask_custom_property_key_sets_only_that_key(store, masked_artifact):
    type_id, artifact_id = masked_artifact
    update = pb.Artifact(id=artifact_id, type_id=type_id, uri="/ignored")
    update.custom_properties["c"].string_value = "C"
    update.custom_properties["d"].string_value = "ignored"
    store.put_artifacts([update], field_mask_paths=["custom_properties.c"])
    assert summary(ARTIFACT.read(store, artifact_id)) == (
        "/old", pb.Artifact.LIVE, {"a": 1, "b": 2}, {"c": "C", "d": "d"},
    )


def test_mask_custom_property_key_absent_from_the_node_deletes_it(store, masked_artifact):
    type_id, artifact_id = masked_artifact
    store.put_artifacts([pb.Artifact(id=artifact_id, type_id=type_id)], field_mask_paths=["custom_properties.d"])
    assert summary(ARTIFACT.read(store, artifact_id))[3] == {"c": "c"}


def test_mask_property_key_sets_only_that_property(store, masked_artifact):
    type_id, artifact_id = masked_artifact
    update = pb.Artifact(id=artifact_id, type_id=type_id)
    update.properties["b"].int_value = 20
    store.put_artifacts([update], field_mask_paths=["properties.b"])
    assert summary(ARTIFACT.read(store, artifact_id))[2] == {"a": 1, "b": 20}


def test_mask_bare_properties_replaces_the_whole_map(store, masked_artifact):
    type_id, artifact_id = masked_artifact
    update = pb.Artifact(id=artifact_id, type_id=type_id)
    update.properties["b"].int_value = 20
    store.put_artifacts([update], field_mask_paths=["properties"])
    assert summary(ARTIFACT.read(store, artifact_id)) == ("/old", pb.Artifact.LIVE, {"b": 20}, {"c": "c", "d": "d"})


def test_mask_state_absent_from_the_node_clears_it(store, masked_artifact):
    type_id, artifact_id = masked_artifact
    store.put_artifacts([pb.Artifact(id=artifact_id, type_id=type_id)], field_mask_paths=["state"])
    assert ARTIFACT.read(store, artifact_id).state == pb.Artifact.UNKNOWN


def test_mask_path_naming_no_field_changes_nothing(store, masked_artifact):
    # As MLMD 1.17.1: a path it does not know is ignored (tests/test_update_masks.py compares with MLMD).
    type_id, artifact_id = masked_artifact
    before = ARTIFACT.read(store, artifact_id)
    for path in ("nope", "last_known_state", "uri.x"):
        store.put_artifacts([pb.Artifact(id=artifact_id, type_id=type_id, uri="/x")], field_mask_paths=[path])
    assert ARTIFACT.read(store, artifact_id) == before


def test_mask_is_ignored_for_new_nodes(store):
    type_id = ARTIFACT.put_type(store)
    new = pb.Artifact(type_id=type_id, uri="/new", state=pb.Artifact.LIVE)
    [artifact_id] = store.put_artifacts([new], field_mask_paths=["uri"])
    read = ARTIFACT.read(store, artifact_id)
    assert (read.uri, read.state) == ("/new", pb.Artifact.LIVE)


def test_mask_property_of_the_wrong_type_is_invalid_argument(store, masked_artifact):
    type_id, artifact_id = masked_artifact
    update = pb.Artifact(id=artifact_id, type_id=type_id)
    update.properties["a"].string_value = "not an int"
    with pytest.raises(InvalidArgumentError):
        store.put_artifacts([update], field_mask_paths=["properties.a"])


def test_context_mask_without_name_keeps_the_name(store):
    type_id = CONTEXT.put_type(store)
    [context_id] = store.put_contexts([pb.Context(type_id=type_id, name="kept")])
    store.put_contexts([pb.Context(id=context_id, type_id=type_id, external_id="x")], field_mask_paths=["external_id"])
    read = CONTEXT.read(store, context_id)
    assert (read.name, read.external_id) == ("kept", "x")


def test_context_mask_name_renames_and_refuses_an_empty_name(store):
    type_id = CONTEXT.put_type(store)
    [context_id] = store.put_contexts([pb.Context(type_id=type_id, name="before")])
    store.put_contexts([pb.Context(id=context_id, type_id=type_id, name="after")], field_mask_paths=["name"])
    assert CONTEXT.read(store, context_id).name == "after"
    with pytest.raises(InvalidArgumentError):
        store.put_contexts([pb.Context(id=context_id, type_id=type_id)], field_mask_paths=["name"])


# --- reads ----------------------------------------------------------------------------------------


@ALL_KINDS
def test_get_by_id_returns_nodes_in_id_order_once_skipping_missing_ids(store, kind):
    type_id = kind.put_type(store)
    ids = kind.put(store, [kind.new(type_id) for _ in range(3)])
    found = kind.by_id(store, [ids[2], 999, ids[0], ids[2]])
    assert [n.id for n in found] == [ids[0], ids[2]]
    assert kind.by_id(store, []) == []
    assert kind.by_id(store, [999]) == []


@ALL_KINDS
def test_get_by_type_returns_the_nodes_of_that_type_and_version(store, kind):
    unversioned = kind.put_type(store)
    v1 = kind.put_type(store, version="1")
    other = kind.put_type(store, "Other")
    ids = kind.put(store, [kind.new(unversioned), kind.new(v1), kind.new(v1), kind.new(other)])
    assert [n.id for n in kind.by_type(store, "T")] == ids[:1]
    assert [n.id for n in kind.by_type(store, "T", "1")] == ids[1:3]
    assert kind.by_type(store, "T", "2") == []
    assert kind.by_type(store, "Missing") == []


@ALL_KINDS
def test_get_by_type_and_name_finds_one_node_or_none(store, kind):
    type_id = kind.put_type(store)
    [node_id] = kind.put(store, [kind.new(type_id, name="n")])
    assert kind.by_type_and_name(store, "T", "n").id == node_id
    assert kind.by_type_and_name(store, "T", "missing") is None
    assert kind.by_type_and_name(store, "Missing", "n") is None
    assert kind.by_type_and_name(store, "T", "n", "no-such-version") is None


def test_get_artifacts_by_uri_returns_every_artifact_with_that_uri(store):
    type_id = ARTIFACT.put_type(store)
    ids = store.put_artifacts(
        [pb.Artifact(type_id=type_id, uri="/shared"), pb.Artifact(type_id=type_id, uri="/other"),
         pb.Artifact(type_id=type_id, uri="/shared")]
    )
    assert [a.id for a in store.get_artifacts_by_uri("/shared")] == [ids[0], ids[2]]
    assert store.get_artifacts_by_uri("/missing") == []


@ALL_KINDS
def test_get_by_external_ids_returns_the_matches_in_id_order(store, kind):
    type_id = kind.put_type(store)
    ids = kind.put(store, [kind.new(type_id, external_id=f"ext-{i}") for i in range(3)] + [kind.new(type_id)])
    found = kind.by_external_ids(store, ["ext-2", "missing", "ext-0"])
    assert [n.id for n in found] == [ids[0], ids[2]]
    assert kind.by_external_ids(store, []) == []


@ALL_KINDS
def test_get_by_external_ids_with_no_match_is_not_found(store, kind):
    type_id = kind.put_type(store)
    kind.put(store, [kind.new(type_id, external_id="ext")])
    with pytest.raises(NotFoundError):
        kind.by_external_ids(store, ["missing"])


@ALL_KINDS
def test_get_by_an_empty_external_id_is_invalid_argument(store, kind):
    with pytest.raises(InvalidArgumentError):
        kind.by_external_ids(store, ["ext", ""])


def test_struct_property_reads_back_as_a_struct(store):
    type_id = ARTIFACT.put_type(store, config=pb.STRUCT)
    artifact = pb.Artifact(type_id=type_id)
    artifact.properties["config"].struct_value.update({"empty_list": [], "null": None, "flag": False})
    [artifact_id] = store.put_artifacts([artifact])
    read = ARTIFACT.read(store, artifact_id).properties["config"].struct_value
    assert isinstance(read, struct_pb2.Struct)
    assert read == artifact.properties["config"].struct_value


def test_non_finite_doubles_round_trip(store):
    import math

    type_id = store.put_artifact_type(pb.ArtifactType(name="Floats"))
    artifact = pb.Artifact(type_id=type_id)
    artifact.custom_properties["nan"].double_value = math.nan
    artifact.custom_properties["inf"].double_value = math.inf
    artifact.custom_properties["ninf"].double_value = -math.inf
    [artifact_id] = store.put_artifacts([artifact])
    [read] = store.get_artifacts_by_id([artifact_id])
    assert math.isnan(read.custom_properties["nan"].double_value)
    assert read.custom_properties["inf"].double_value == math.inf
    assert read.custom_properties["ninf"].double_value == -math.inf
