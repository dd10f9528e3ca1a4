"""Type upserts keyed by (name, version), type evolution and type reads, as MLMD does them, on both backends."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mlineage import metadata_store_pb2 as pb
from mlineage.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
    UnimplementedError,
)


@dataclass(frozen=True)
class Kind:
    """One of the three type kinds and the store methods that serve it."""

    name: str
    message: type

    def put(self, store, message, **flags) -> int:
        return getattr(store, f"put_{self.name}_type")(message, **flags)

    def get(self, store, name: str, version: str | None = None):
        return getattr(store, f"get_{self.name}_type")(name, version)

    def get_all(self, store) -> list:
        return getattr(store, f"get_{self.name}_types")()

    def by_id(self, store, ids) -> list:
        return getattr(store, f"get_{self.name}_types_by_id")(ids)

    def by_external_ids(self, store, external_ids) -> list:
        return getattr(store, f"get_{self.name}_types_by_external_ids")(external_ids)


ARTIFACT = Kind("artifact", pb.ArtifactType)
EXECUTION = Kind("execution", pb.ExecutionType)
CONTEXT = Kind("context", pb.ContextType)
ALL_KINDS = pytest.mark.parametrize("kind", [ARTIFACT, EXECUTION, CONTEXT], ids=lambda k: k.name)


def make(kind: Kind, name: str = "T", properties: dict[str, int] | None = None, **fields):
    message = kind.message(name=name, **fields)
    for key, data_type in (properties or {}).items():
        message.properties[key] = data_type
    return message


# --- upsert by (name, version) ---------------------------------------------------------------------


@ALL_KINDS
def test_new_type_gets_an_id_after_the_nine_system_types(store, kind):
    assert kind.put(store, make(kind, "First")) >= 10


@ALL_KINDS
def test_putting_the_same_type_again_returns_the_same_id(store, kind):
    first = kind.put(store, make(kind, properties={"p": pb.INT}))
    assert kind.put(store, make(kind, properties={"p": pb.INT})) == first
    assert [t.name for t in kind.get_all(store)] == ["T"]


@ALL_KINDS
def test_types_of_different_kinds_with_one_name_are_distinct(store, kind):
    others = [k for k in (ARTIFACT, EXECUTION, CONTEXT) if k is not kind]
    ids = {kind.put(store, make(kind, "Shared"))} | {other.put(store, make(other, "Shared")) for other in others}
    assert len(ids) == 3
    assert kind.get(store, "Shared").id in ids


@ALL_KINDS
def test_new_property_without_can_add_fields_is_already_exists(store, kind):
    kind.put(store, make(kind, properties={"p": pb.INT}))
    with pytest.raises(AlreadyExistsError):
        kind.put(store, make(kind, properties={"p": pb.INT, "q": pb.STRING}))
    assert dict(kind.get(store, "T").properties) == {"p": pb.INT}


@ALL_KINDS
def test_can_add_fields_adds_the_new_property(store, kind):
    type_id = kind.put(store, make(kind, properties={"p": pb.INT}))
    again = kind.put(store, make(kind, properties={"p": pb.INT, "q": pb.STRING}), can_add_fields=True)
    assert again == type_id
    assert dict(kind.get(store, "T").properties) == {"p": pb.INT, "q": pb.STRING}


@ALL_KINDS
def test_omitted_property_without_can_omit_fields_is_already_exists(store, kind):
    kind.put(store, make(kind, properties={"p": pb.INT, "q": pb.STRING}))
    with pytest.raises(AlreadyExistsError):
        kind.put(store, make(kind, properties={"p": pb.INT}))


@ALL_KINDS
def test_can_omit_fields_keeps_the_stored_properties(store, kind):
    type_id = kind.put(store, make(kind, properties={"p": pb.INT, "q": pb.STRING}))
    assert kind.put(store, make(kind), can_omit_fields=True) == type_id
    assert dict(kind.get(store, "T").properties) == {"p": pb.INT, "q": pb.STRING}


@ALL_KINDS
def test_changing_a_property_data_type_is_already_exists_even_with_both_flags(store, kind):
    kind.put(store, make(kind, properties={"p": pb.INT}))
    with pytest.raises(AlreadyExistsError):
        kind.put(store, make(kind, properties={"p": pb.STRING}), can_add_fields=True, can_omit_fields=True)
    assert dict(kind.get(store, "T").properties) == {"p": pb.INT}


@ALL_KINDS
def test_versions_of_one_name_are_distinct_types(store, kind):
    unversioned = kind.put(store, make(kind))
    v1 = kind.put(store, make(kind, version="v1", properties={"a": pb.INT}))
    v2 = kind.put(store, make(kind, version="v2", properties={"a": pb.STRING}))
    assert len({unversioned, v1, v2}) == 3
    assert kind.get(store, "T", "v1").id == v1
    assert kind.get(store, "T", "v2").properties["a"] == pb.STRING
    assert kind.get(store, "T").id == unversioned
    assert not kind.get(store, "T").HasField("version")


@ALL_KINDS
def test_empty_version_is_the_same_type_as_an_unset_version(store, kind):
    type_id = kind.put(store, make(kind, version=""))
    assert kind.put(store, make(kind)) == type_id
    assert kind.get(store, "T").id == type_id
    assert kind.get(store, "T", "").id == type_id


@ALL_KINDS
def test_type_without_a_name_is_invalid_argument(store, kind):
    with pytest.raises(InvalidArgumentError):
        kind.put(store, kind.message(properties={"p": pb.INT}))


@ALL_KINDS
def test_property_of_unknown_data_type_is_invalid_argument(store, kind):
    with pytest.raises(InvalidArgumentError):
        kind.put(store, make(kind, properties={"p": pb.UNKNOWN}))
    with pytest.raises(NotFoundError):
        kind.get(store, "T")


# --- base_type ------------------------------------------------------------------------------------


def test_artifact_type_with_a_base_type_reads_back_with_it(store):
    store.put_artifact_type(pb.ArtifactType(name="Trained", base_type=pb.ArtifactType.MODEL))
    assert store.get_artifact_type("Trained").base_type == pb.ArtifactType.MODEL


def test_execution_type_with_a_base_type_reads_back_with_it(store):
    store.put_execution_type(pb.ExecutionType(name="Trainer", base_type=pb.ExecutionType.TRAIN))
    assert store.get_execution_type("Trainer").base_type == pb.ExecutionType.TRAIN


def test_changing_a_base_type_is_unimplemented(store):
    store.put_artifact_type(pb.ArtifactType(name="Trained", base_type=pb.ArtifactType.MODEL))
    with pytest.raises(UnimplementedError):
        store.put_artifact_type(pb.ArtifactType(name="Trained", base_type=pb.ArtifactType.DATASET))
    assert store.get_artifact_type("Trained").base_type == pb.ArtifactType.MODEL


def test_omitting_the_base_type_on_an_update_keeps_it(store):
    type_id = store.put_artifact_type(pb.ArtifactType(name="Trained", base_type=pb.ArtifactType.MODEL))
    assert store.put_artifact_type(pb.ArtifactType(name="Trained")) == type_id
    assert store.get_artifact_type("Trained").base_type == pb.ArtifactType.MODEL


def test_a_base_type_can_be_given_to_a_type_that_had_none(store):
    type_id = store.put_artifact_type(pb.ArtifactType(name="Trained"))
    assert store.put_artifact_type(pb.ArtifactType(name="Trained", base_type=pb.ArtifactType.MODEL)) == type_id
    assert store.get_artifact_type("Trained").base_type == pb.ArtifactType.MODEL


def test_explicitly_unset_base_type_is_unimplemented_as_a_deletion(store):
    store.put_artifact_type(pb.ArtifactType(name="Trained", base_type=pb.ArtifactType.MODEL))
    with pytest.raises(UnimplementedError):
        store.put_artifact_type(pb.ArtifactType(name="Trained", base_type=pb.ArtifactType.UNSET))
    with pytest.raises(UnimplementedError):
        store.put_context_type(pb.ContextType(name="Pipeline", base_type=pb.ContextType.UNSET))
    assert store.get_artifact_type("Trained").base_type == pb.ArtifactType.MODEL


# --- description and external_id -------------------------------------------------------------------


@ALL_KINDS
def test_description_and_external_id_round_trip(store, kind):
    kind.put(store, make(kind, description="what it is", external_id="ext-1"))
    read = kind.get(store, "T")
    assert (read.description, read.external_id) == ("what it is", "ext-1")


@ALL_KINDS
def test_an_update_keeps_the_stored_description(store, kind):
    kind.put(store, make(kind, description="first"))
    kind.put(store, make(kind, description="second"))
    assert kind.get(store, "T").description == "first"


@ALL_KINDS
def test_an_update_sets_a_new_external_id_and_keeps_it_when_omitted(store, kind):
    type_id = kind.put(store, make(kind, external_id="ext-1"))
    assert kind.put(store, make(kind, external_id="ext-2")) == type_id
    assert kind.get(store, "T").external_id == "ext-2"
    kind.put(store, make(kind))
    assert kind.get(store, "T").external_id == "ext-2"


@ALL_KINDS
def test_type_external_id_is_unique_within_a_kind(store, kind):
    kind.put(store, make(kind, "One", external_id="ext-1"))
    with pytest.raises(AlreadyExistsError):
        kind.put(store, make(kind, "Two", external_id="ext-1"))
    kind.put(store, make(kind, "Two"))
    with pytest.raises(AlreadyExistsError):
        kind.put(store, make(kind, "Two", external_id="ext-1"))
    assert not kind.get(store, "Two").HasField("external_id")


# --- reads ----------------------------------------------------------------------------------------


@ALL_KINDS
def test_get_type_of_a_missing_name_is_not_found(store, kind):
    with pytest.raises(NotFoundError):
        kind.get(store, "Missing")


@ALL_KINDS
def test_get_type_of_a_missing_version_is_not_found(store, kind):
    kind.put(store, make(kind, version="v1"))
    with pytest.raises(NotFoundError):
        kind.get(store, "T", "v2")
    with pytest.raises(NotFoundError):
        kind.get(store, "T")


def test_get_type_of_another_kind_is_not_found(store):
    store.put_artifact_type(pb.ArtifactType(name="OnlyArtifact"))
    with pytest.raises(NotFoundError):
        store.get_execution_type("OnlyArtifact")
    with pytest.raises(NotFoundError):
        store.get_context_type("OnlyArtifact")


@ALL_KINDS
def test_get_types_lists_user_types_without_the_system_types(store, kind):
    assert kind.get_all(store) == []
    kind.put(store, make(kind, "B"))
    kind.put(store, make(kind, "A", version="1"))
    assert [(t.name, t.version) for t in kind.get_all(store)] == [("B", ""), ("A", "1")]


def test_system_types_are_readable_by_id(store):
    artifacts = store.get_artifact_types_by_id(list(range(1, 10)))
    executions = store.get_execution_types_by_id(list(range(1, 10)))
    assert [t.name for t in artifacts] == ["mlmd.Dataset", "mlmd.Model", "mlmd.Metrics", "mlmd.Statistics"]
    assert [t.name for t in executions] == [
        "mlmd.Train",
        "mlmd.Transform",
        "mlmd.Process",
        "mlmd.Evaluate",
        "mlmd.Deploy",
    ]
    assert store.get_context_types_by_id(list(range(1, 10))) == []


@ALL_KINDS
def test_get_types_by_id_follows_the_request_order_and_skips_missing_ids(store, kind):
    first = kind.put(store, make(kind, "First"))
    second = kind.put(store, make(kind, "Second"))
    found = kind.by_id(store, [second, 999, first, second])
    assert [t.id for t in found] == [second, first, second]
    assert [t.name for t in found] == ["Second", "First", "Second"]
    assert kind.by_id(store, []) == []


def test_get_types_by_id_skips_types_of_another_kind(store):
    artifact_type = store.put_artifact_type(pb.ArtifactType(name="A"))
    execution_type = store.put_execution_type(pb.ExecutionType(name="E"))
    assert [t.id for t in store.get_execution_types_by_id([artifact_type, execution_type])] == [execution_type]


@ALL_KINDS
def test_get_types_by_external_ids_returns_the_matching_types(store, kind):
    kind.put(store, make(kind, "One", external_id="ext-1"))
    kind.put(store, make(kind, "Two", external_id="ext-2"))
    kind.put(store, make(kind, "Three"))
    found = kind.by_external_ids(store, ["ext-2", "ext-1", "missing"])
    assert sorted(t.name for t in found) == ["One", "Two"]
    assert kind.by_external_ids(store, []) == []


@ALL_KINDS
def test_get_types_by_external_ids_with_no_match_is_not_found(store, kind):
    kind.put(store, make(kind, external_id="ext-1"))
    with pytest.raises(NotFoundError):
        kind.by_external_ids(store, ["missing"])


@ALL_KINDS
def test_get_types_by_an_empty_external_id_is_invalid_argument(store, kind):
    with pytest.raises(InvalidArgumentError):
        kind.by_external_ids(store, [""])


# --- put_types ------------------------------------------------------------------------------------


def test_put_types_stores_all_three_kinds(store):
    artifact_ids, execution_ids, context_ids = store.put_types(
        artifact_types=[pb.ArtifactType(name="A1"), pb.ArtifactType(name="A2")],
        execution_types=[pb.ExecutionType(name="E")],
        context_types=[pb.ContextType(name="C")],
    )
    assert [store.get_artifact_type(n).id for n in ("A1", "A2")] == artifact_ids
    assert [store.get_execution_type("E").id] == execution_ids
    assert [store.get_context_type("C").id] == context_ids


def test_put_types_with_one_bad_type_stores_none_of_them(store):
    store.put_context_type(pb.ContextType(name="Existing", properties={"p": pb.INT}))
    with pytest.raises(AlreadyExistsError):
        store.put_types(
            artifact_types=[pb.ArtifactType(name="NewArtifact")],
            execution_types=[pb.ExecutionType(name="NewExecution")],
            context_types=[pb.ContextType(name="Existing", properties={"p": pb.STRING})],
        )
    with pytest.raises(InvalidArgumentError):
        store.put_types(artifact_types=[pb.ArtifactType(name="NewArtifact")], execution_types=[pb.ExecutionType()])
    assert store.get_artifact_types() == []
    assert store.get_execution_types() == []
    assert [t.name for t in store.get_context_types()] == ["Existing"]


def test_put_types_passes_can_add_fields_to_every_type(store):
    store.put_artifact_type(pb.ArtifactType(name="A", properties={"p": pb.INT}))
    store.put_types(artifact_types=[pb.ArtifactType(name="A", properties={"p": pb.INT, "q": pb.DOUBLE})],
                    can_add_fields=True)
    assert dict(store.get_artifact_type("A").properties) == {"p": pb.INT, "q": pb.DOUBLE}


# --- execution signatures -------------------------------------------------------------------------


def test_execution_type_input_and_output_types_round_trip(store):
    execution_type = pb.ExecutionType(name="Trainer")
    execution_type.input_type.dict.properties["examples"].simple.name = "Examples"
    execution_type.input_type.dict.properties["schema"].union_type.candidates.add().simple.name = "Schema"
    execution_type.output_type.any.SetInParent()
    store.put_execution_type(execution_type)
    read = store.get_execution_type("Trainer")
    assert read.input_type == execution_type.input_type
    assert read.output_type == execution_type.output_type
    assert store.get_execution_types_by_id([read.id])[0].input_type == execution_type.input_type


def test_execution_type_without_signatures_reads_back_without_them(store):
    store.put_execution_type(pb.ExecutionType(name="Plain"))
    read = store.get_execution_type("Plain")
    assert not read.HasField("input_type")
    assert not read.HasField("output_type")
