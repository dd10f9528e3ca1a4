"""Contexts as groupings: attributions, associations, membership reads and the parent-context hierarchy."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mlineage import ListOptions, OrderByField
from mlineage import metadata_store_pb2 as pb
from mlineage.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError


@dataclass
class Nodes:
    artifacts: list[int]
    executions: list[int]
    contexts: list[int]


@pytest.fixture
def nodes(store) -> Nodes:
    """Three artifacts, three executions and five contexts, not linked to each other."""
    artifact_type = store.put_artifact_type(pb.ArtifactType(name="Examples"))
    execution_type = store.put_execution_type(pb.ExecutionType(name="Trainer"))
    context_type = store.put_context_type(pb.ContextType(name="Pipeline"))
    return Nodes(
        artifacts=store.put_artifacts([pb.Artifact(type_id=artifact_type, uri=f"/a/{i}") for i in range(3)]),
        executions=store.put_executions(
            [pb.Execution(type_id=execution_type, name=f"e{i}") for i in range(3)]
        ),
        contexts=store.put_contexts([pb.Context(type_id=context_type, name=f"c{i}") for i in range(5)]),
    )


def ids(messages) -> list[int]:
    return [message.id for message in messages]


def attribution(artifact_id: int, context_id: int) -> pb.Attribution:
    return pb.Attribution(artifact_id=artifact_id, context_id=context_id)


def association(execution_id: int, context_id: int) -> pb.Association:
    return pb.Association(execution_id=execution_id, context_id=context_id)


def parent(child_id: int, parent_id: int) -> pb.ParentContext:
    return pb.ParentContext(child_id=child_id, parent_id=parent_id)


# --- attributions and associations ---------------------------------------------------------------


def test_attributions_and_associations_link_nodes_to_contexts(store, nodes):
    a0, a1, _ = nodes.artifacts
    e0, _, _ = nodes.executions
    c0, c1, *_ = nodes.contexts
    store.put_attributions_and_associations(
        [attribution(a0, c0), attribution(a1, c0), attribution(a0, c1)], [association(e0, c0)]
    )
    assert ids(store.get_artifacts_by_context(c0)) == [a0, a1]
    assert ids(store.get_artifacts_by_context(c1)) == [a0]
    assert ids(store.get_executions_by_context(c0)) == [e0]
    assert ids(store.get_contexts_by_artifact(a0)) == [c0, c1]
    assert ids(store.get_contexts_by_execution(e0)) == [c0]


def test_putting_the_same_attributions_and_associations_twice_is_a_no_op(store, nodes):
    a0 = nodes.artifacts[0]
    e0 = nodes.executions[0]
    c0 = nodes.contexts[0]
    store.put_attributions_and_associations([attribution(a0, c0)], [association(e0, c0)])
    store.put_attributions_and_associations([attribution(a0, c0)] * 2, [association(e0, c0)] * 2)
    assert ids(store.get_artifacts_by_context(c0)) == [a0]
    assert ids(store.get_executions_by_context(c0)) == [e0]


@pytest.mark.parametrize(
    "which",
    ["attribution_context", "attribution_artifact", "association_context", "association_execution"],
)
def test_attribution_or_association_to_a_missing_node_is_invalid_argument_and_stores_nothing(
    store, nodes, which
):
    a0 = nodes.artifacts[0]
    e0 = nodes.executions[0]
    c0 = nodes.contexts[0]
    attributions = [attribution(a0, c0)]
    associations = [association(e0, c0)]
    if which == "attribution_context":
        attributions.append(attribution(a0, 999))
    elif which == "attribution_artifact":
        attributions.append(attribution(999, c0))
    elif which == "association_context":
        associations.append(association(e0, 999))
    else:
        associations.append(association(999, c0))
    with pytest.raises(InvalidArgumentError):
        store.put_attributions_and_associations(attributions, associations)
    assert store.get_artifacts_by_context(c0) == []
    assert store.get_executions_by_context(c0) == []


def test_contexts_of_an_artifact_without_any_is_not_found(store, nodes):
    # MLMD: NOT_FOUND "No contexts found for artifact_id: 1".
    with pytest.raises(NotFoundError):
        store.get_contexts_by_artifact(nodes.artifacts[0])
    with pytest.raises(NotFoundError):
        store.get_contexts_by_artifact(999)


def test_contexts_of_an_execution_without_any_is_not_found(store, nodes):
    with pytest.raises(NotFoundError):
        store.get_contexts_by_execution(nodes.executions[0])


def test_members_of_an_empty_or_missing_context_are_an_empty_list(store, nodes):
    assert store.get_artifacts_by_context(nodes.contexts[0]) == []
    assert store.get_executions_by_context(nodes.contexts[0]) == []
    assert store.get_artifacts_by_context(999) == []
    assert store.get_executions_by_context(999) == []


def test_artifacts_by_context_pages_with_list_options(store, nodes):
    context_id = nodes.contexts[0]
    artifact_type = store.get_artifact_type("Examples").id
    more = store.put_artifacts([pb.Artifact(type_id=artifact_type, uri=f"/more/{i}") for i in range(250)])
    members = nodes.artifacts + more
    store.put_attributions_and_associations([attribution(a, context_id) for a in members], [])
    assert ids(store.get_artifacts_by_context(context_id)) == members
    assert ids(store.get_artifacts_by_context(context_id, ListOptions(limit=7))) == members[:7]
    assert (
        ids(store.get_artifacts_by_context(context_id, ListOptions(order_by=OrderByField.ID, is_asc=False)))
        == (members[::-1])
    )
    assert ids(store.get_artifacts_by_context(context_id, ListOptions(filter_query="uri LIKE '/a/%'"))) == (
        nodes.artifacts
    )


def test_executions_by_context_lists_only_that_contexts_executions(store, nodes):
    e0, e1, e2 = nodes.executions
    c0, c1, *_ = nodes.contexts
    store.put_attributions_and_associations(
        [], [association(e0, c0), association(e2, c0), association(e1, c1)]
    )
    assert sorted(ids(store.get_executions_by_context(c0))) == [e0, e2]
    assert ids(store.get_executions_by_context(c1, ListOptions(limit=5))) == [e1]


def test_executions_by_context_without_options_are_newest_first(store, nodes):
    # ml_metadata's client defaults to ListOptions(order_by=CREATE_TIME, is_asc=False); ties go by id.
    e0, e1, e2 = nodes.executions
    c0 = nodes.contexts[0]
    execution_type = store.get_execution_type("Trainer").id
    [later] = store.put_executions([pb.Execution(type_id=execution_type, name="later")])
    store.put_attributions_and_associations([], [association(e, c0) for e in (later, e1, e0, e2)])
    assert ids(store.get_executions_by_context(c0)) == [later, e2, e1, e0]


# --- parent contexts ------------------------------------------------------------------------------


def test_parent_contexts_are_read_from_both_ends(store, nodes):
    c0, c1, c2, *_ = nodes.contexts
    store.put_parent_contexts([parent(c1, c0), parent(c2, c0), parent(c2, c1)])
    assert ids(store.get_parent_contexts_by_context(c2)) == [c0, c1]
    assert ids(store.get_children_contexts_by_context(c0)) == [c1, c2]
    assert ids(store.get_parent_contexts_by_context(c0)) == []
    assert ids(store.get_children_contexts_by_context(c2)) == []


def test_a_context_without_relatives_has_empty_parents_and_children(store, nodes):
    assert store.get_parent_contexts_by_context(nodes.contexts[0]) == []
    assert store.get_children_contexts_by_context(nodes.contexts[0]) == []
    assert store.get_parent_contexts_by_context(999) == []


def test_an_existing_parent_context_is_already_exists(store, nodes):
    c0, c1, *_ = nodes.contexts
    store.put_parent_contexts([parent(c1, c0)])
    with pytest.raises(AlreadyExistsError):
        store.put_parent_contexts([parent(c1, c0)])


def test_a_parent_context_twice_in_one_request_is_already_exists_and_stores_nothing(store, nodes):
    c0, c1, c2, *_ = nodes.contexts
    with pytest.raises(AlreadyExistsError):
        store.put_parent_contexts([parent(c2, c0), parent(c1, c0), parent(c1, c0)])
    assert store.get_children_contexts_by_context(c0) == []


def test_a_context_as_its_own_parent_is_invalid_argument(store, nodes):
    c0 = nodes.contexts[0]
    with pytest.raises(InvalidArgumentError):
        store.put_parent_contexts([parent(c0, c0)])
    assert store.get_parent_contexts_by_context(c0) == []


def test_a_direct_cycle_is_invalid_argument(store, nodes):
    c0, c1, *_ = nodes.contexts
    store.put_parent_contexts([parent(c1, c0)])
    with pytest.raises(InvalidArgumentError):
        store.put_parent_contexts([parent(c0, c1)])
    assert store.get_parent_contexts_by_context(c0) == []


def test_a_multi_hop_cycle_is_invalid_argument(store, nodes):
    c0, c1, c2, c3, _ = nodes.contexts
    store.put_parent_contexts([parent(c1, c0), parent(c2, c1), parent(c3, c2)])
    with pytest.raises(InvalidArgumentError):
        store.put_parent_contexts([parent(c0, c3)])
    assert store.get_parent_contexts_by_context(c0) == []


def test_a_cycle_closed_within_one_request_is_invalid_argument_and_stores_nothing(store, nodes):
    c0, c1, c2, *_ = nodes.contexts
    with pytest.raises(InvalidArgumentError):
        store.put_parent_contexts([parent(c1, c0), parent(c2, c1), parent(c0, c2)])
    assert store.get_children_contexts_by_context(c0) == []
    assert store.get_children_contexts_by_context(c1) == []


def test_a_diamond_is_not_a_cycle(store, nodes):
    c0, c1, c2, c3, _ = nodes.contexts
    store.put_parent_contexts([parent(c1, c0), parent(c2, c0), parent(c3, c1), parent(c3, c2)])
    assert ids(store.get_parent_contexts_by_context(c3)) == [c1, c2]


@pytest.mark.parametrize("missing", ["child", "parent"])
def test_a_parent_context_naming_a_missing_context_is_invalid_argument(store, nodes, missing):
    c0 = nodes.contexts[0]
    edge = parent(999, c0) if missing == "child" else parent(c0, 999)
    with pytest.raises(InvalidArgumentError):
        store.put_parent_contexts([edge])
    assert store.get_parent_contexts_by_context(c0) == []
    assert store.get_children_contexts_by_context(c0) == []


def test_parents_and_children_of_many_contexts_answer_per_context(store, nodes):
    c0, c1, c2, c3, c4 = nodes.contexts
    store.put_parent_contexts([parent(c1, c0), parent(c2, c0), parent(c2, c1), parent(c3, c2)])

    parents = store.get_parent_contexts_by_contexts([c0, c1, c2, c3, c4])
    assert {k: ids(v) for k, v in parents.items()} == {c0: [], c1: [c0], c2: [c0, c1], c3: [c2], c4: []}

    children = store.get_children_contexts_by_contexts([c0, c1, c2, c3, c4])
    assert {k: ids(v) for k, v in children.items()} == {c0: [c1, c2], c1: [c2], c2: [c3], c3: [], c4: []}


def test_parents_of_many_contexts_of_an_empty_list_is_an_empty_dict(store, nodes):
    assert store.get_parent_contexts_by_contexts([]) == {}
    assert store.get_children_contexts_by_contexts([]) == {}
