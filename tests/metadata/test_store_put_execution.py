"""put_execution and put_lineage_subgraph: composite writes in one transaction, as MLMD defines them."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from mlineage import metadata_store_pb2 as pb
from mlineage.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError, OutOfRangeError


@dataclass
class Types:
    artifact: int
    execution: int
    context: int


@pytest.fixture
def types(store) -> Types:
    artifact_type = pb.ArtifactType(name="Model")
    artifact_type.properties["version"] = pb.INT
    return Types(
        artifact=store.put_artifact_type(artifact_type),
        execution=store.put_execution_type(pb.ExecutionType(name="Trainer")),
        context=store.put_context_type(pb.ContextType(name="PipelineRun")),
    )


def artifact(types: Types, **fields) -> pb.Artifact:
    return pb.Artifact(type_id=types.artifact, **fields)


def execution(types: Types, **fields) -> pb.Execution:
    return pb.Execution(type_id=types.execution, **fields)


def context(types: Types, name: str, **fields) -> pb.Context:
    return pb.Context(type_id=types.context, name=name, **fields)


def output(**fields) -> pb.Event:
    return pb.Event(type=pb.Event.OUTPUT, **fields)


def wait_a_millisecond() -> None:
    time.sleep(0.005)


def nothing_stored(store) -> bool:
    return not store.get_executions() and not store.get_artifacts() and not store.get_contexts()


# --- put_execution ------------------------------------------------------------------------------


def test_put_execution_returns_execution_artifact_and_context_ids(store, types):
    execution_id, artifact_ids, context_ids = store.put_execution(
        execution(types, name="train"),
        [(artifact(types, uri="/m/1"), output()), (artifact(types, uri="/m/2"), output())],
        [context(types, "run-1"), context(types, "run-2")],
    )
    assert [e.name for e in store.get_executions_by_id([execution_id])] == ["train"]
    assert [a.uri for a in store.get_artifacts_by_id(artifact_ids)] == ["/m/1", "/m/2"]
    assert [c.name for c in store.get_contexts_by_id(context_ids)] == ["run-1", "run-2"]


def test_put_execution_creates_events_bound_to_the_new_ids(store, types):
    path = pb.Event.Path()
    path.steps.add(key="model")
    execution_id, [a1, a2], _ = store.put_execution(
        execution(types),
        [(artifact(types), pb.Event(type=pb.Event.INPUT)), (artifact(types), output(path=path))],
        [],
    )
    events = store.get_events_by_execution_ids([execution_id])
    assert {(e.artifact_id, e.execution_id, e.type) for e in events} == {
        (a1, execution_id, pb.Event.INPUT),
        (a2, execution_id, pb.Event.OUTPUT),
    }
    [written] = store.get_events_by_artifact_ids([a2])
    assert [s.key for s in written.path.steps] == ["model"]


def test_put_execution_attributes_artifacts_and_associates_the_execution(store, types):
    execution_id, artifact_ids, [c1, c2] = store.put_execution(
        execution(types),
        [(artifact(types), output()), (artifact(types), output())],
        [context(types, "a"), context(types, "b")],
    )
    for context_id in (c1, c2):
        assert [a.id for a in store.get_artifacts_by_context(context_id)] == artifact_ids
        assert [e.id for e in store.get_executions_by_context(context_id)] == [execution_id]
    assert [c.id for c in store.get_contexts_by_execution(execution_id)] == [c1, c2]


def test_put_execution_updates_an_existing_execution_and_artifact(store, types):
    [execution_id] = store.put_executions([execution(types, last_known_state=pb.Execution.RUNNING)])
    stored = artifact(types, uri="/m/1")
    stored.properties["version"].int_value = 1
    [artifact_id] = store.put_artifacts([stored])
    changed = artifact(types, id=artifact_id, uri="/m/1", state=pb.Artifact.LIVE)
    changed.properties["version"].int_value = 2

    got = store.put_execution(
        execution(types, id=execution_id, last_known_state=pb.Execution.COMPLETE), [(changed, output())], []
    )

    assert got == (execution_id, [artifact_id], [])
    [read_execution] = store.get_executions_by_id([execution_id])
    [read_artifact] = store.get_artifacts_by_id([artifact_id])
    assert read_execution.last_known_state == pb.Execution.COMPLETE
    assert read_artifact.state == pb.Artifact.LIVE
    assert read_artifact.properties["version"].int_value == 2
    assert len(store.get_executions()) == 1 and len(store.get_artifacts()) == 1


def test_put_execution_with_a_missing_execution_id_is_invalid_argument(store, types):
    with pytest.raises(InvalidArgumentError):
        store.put_execution(execution(types, id=999), [(artifact(types), output())], [context(types, "run")])
    assert nothing_stored(store)


def test_second_put_execution_with_the_same_new_context_name_is_already_exists(store, types):
    store.put_execution(execution(types), [], [context(types, "run")])
    with pytest.raises(AlreadyExistsError):
        store.put_execution(
            execution(types, name="second"),
            [(artifact(types, uri="/second"), output())],
            [context(types, "run")],
        )
    assert [e.name for e in store.get_executions()] == [""]
    assert store.get_artifacts() == []
    assert len(store.get_contexts()) == 1


def test_reuse_context_if_already_exist_links_to_the_stored_context(store, types):
    first_execution, _, [first_context] = store.put_execution(execution(types), [], [context(types, "run")])
    second_execution, [artifact_id], [second_context] = store.put_execution(
        execution(types),
        [(artifact(types), output())],
        [context(types, "run")],
        reuse_context_if_already_exist=True,
    )
    assert second_context == first_context
    assert len(store.get_contexts()) == 1
    assert sorted(e.id for e in store.get_executions_by_context(first_context)) == [
        first_execution,
        second_execution,
    ]
    assert [a.id for a in store.get_artifacts_by_context(first_context)] == [artifact_id]


def test_reuse_context_if_already_exist_creates_a_context_that_does_not_exist(store, types):
    _, _, [context_id] = store.put_execution(
        execution(types), [], [context(types, "new")], reuse_context_if_already_exist=True
    )
    assert [c.name for c in store.get_contexts_by_id([context_id])] == ["new"]


def test_reuse_artifact_by_external_id_updates_the_stored_artifact(store, types):
    [stored_id] = store.put_artifacts([artifact(types, external_id="model-1", uri="/old")])
    _, [artifact_id], _ = store.put_execution(
        execution(types),
        [(artifact(types, external_id="model-1", uri="/new"), output())],
        [],
        reuse_artifact_if_already_exist_by_external_id=True,
    )
    assert artifact_id == stored_id
    assert [a.uri for a in store.get_artifacts()] == ["/new"]


def test_new_artifact_with_a_stored_external_id_is_already_exists_without_reuse(store, types):
    store.put_artifacts([artifact(types, external_id="model-1")])
    with pytest.raises(AlreadyExistsError):
        store.put_execution(execution(types), [(artifact(types, external_id="model-1"), output())], [])
    assert store.get_executions() == []


def test_a_context_with_an_id_is_updated_without_force_reuse_context(store, types):
    [context_id] = store.put_contexts([context(types, "run")])
    given = context(types, "run", id=context_id)
    given.custom_properties["note"].string_value = "updated"
    store.put_execution(execution(types), [], [given])
    [read] = store.get_contexts_by_id([context_id])
    assert read.custom_properties["note"].string_value == "updated"


def test_force_reuse_context_links_a_context_by_id_without_updating_it(store, types):
    [context_id] = store.put_contexts([context(types, "run")])
    given = context(types, "run", id=context_id)
    given.custom_properties["note"].string_value = "ignored"
    execution_id, _, context_ids = store.put_execution(
        execution(types), [], [given], force_reuse_context=True
    )
    assert context_ids == [context_id]
    [read] = store.get_contexts_by_id([context_id])
    assert "note" not in read.custom_properties
    assert [e.id for e in store.get_executions_by_context(context_id)] == [execution_id]


def test_force_reuse_context_with_a_missing_context_id_is_not_found(store, types):
    # MLMD: NOT_FOUND "Results missing for ids: {999}".
    with pytest.raises(NotFoundError):
        store.put_execution(execution(types), [], [context(types, "run", id=999)], force_reuse_context=True)
    assert store.get_executions() == []


def test_put_execution_of_an_unchanged_execution_keeps_its_update_time(store, types):
    [execution_id] = store.put_executions([execution(types)])
    [stored] = store.get_executions_by_id([execution_id])
    wait_a_millisecond()
    store.put_execution(stored, [], [])
    [read] = store.get_executions_by_id([execution_id])
    assert read.last_update_time_since_epoch == stored.last_update_time_since_epoch


def test_force_update_time_moves_the_update_time_of_an_unchanged_execution(store, types):
    [execution_id] = store.put_executions([execution(types)])
    [stored] = store.get_executions_by_id([execution_id])
    wait_a_millisecond()
    store.put_execution(stored, [], [], force_update_time=True)
    [read] = store.get_executions_by_id([execution_id])
    assert read.last_update_time_since_epoch > stored.last_update_time_since_epoch


def test_event_artifact_id_that_does_not_match_its_artifact_is_invalid_argument(store, types):
    a1, a2 = store.put_artifacts([artifact(types), artifact(types)])
    with pytest.raises(InvalidArgumentError):
        store.put_execution(execution(types), [(artifact(types, id=a1), output(artifact_id=a2))], [])
    assert store.get_executions() == []


def test_event_execution_id_that_does_not_match_the_execution_is_invalid_argument(store, types):
    e1, e2 = store.put_executions([execution(types), execution(types)])
    with pytest.raises(InvalidArgumentError):
        store.put_execution(execution(types, id=e1), [(artifact(types), output(execution_id=e2))], [])
    assert store.get_artifacts() == []


def test_an_artifact_without_event_is_stored_and_attributed_without_an_event(store, types):
    execution_id, [artifact_id], [context_id] = store.put_execution(
        execution(types), [(artifact(types, uri="/no-event"), None)], [context(types, "run")]
    )
    assert [a.uri for a in store.get_artifacts_by_id([artifact_id])] == ["/no-event"]
    assert store.get_events_by_execution_ids([execution_id]) == []
    assert [a.id for a in store.get_artifacts_by_context(context_id)] == [artifact_id]


def test_an_event_without_artifact_links_the_stored_artifact_it_names(store, types):
    # MLMD answers with the event's artifact_id at that position and attributes it to the contexts.
    [stored_id] = store.put_artifacts([artifact(types)])
    execution_id, artifact_ids, [context_id] = store.put_execution(
        execution(types),
        [(None, pb.Event(artifact_id=stored_id, type=pb.Event.INPUT)), (artifact(types), output())],
        [context(types, "run")],
    )
    assert artifact_ids[0] == stored_id and len(artifact_ids) == 2
    assert {(e.artifact_id, e.type) for e in store.get_events_by_execution_ids([execution_id])} == {
        (stored_id, pb.Event.INPUT),
        (artifact_ids[1], pb.Event.OUTPUT),
    }
    assert sorted(a.id for a in store.get_artifacts_by_context(context_id)) == sorted(artifact_ids)


def test_an_event_without_artifact_and_without_artifact_id_is_invalid_argument(store, types):
    with pytest.raises(InvalidArgumentError):
        store.put_execution(execution(types), [(None, pb.Event(type=pb.Event.INPUT))], [])
    assert store.get_executions() == []


def test_put_execution_failing_on_its_contexts_leaves_no_execution_or_artifact(store, types):
    store.put_contexts([context(types, "taken")])
    with pytest.raises(AlreadyExistsError):
        store.put_execution(
            execution(types, name="atomic"),
            [(artifact(types, uri="/atomic"), output())],
            [context(types, "fresh"), context(types, "taken")],
        )
    assert store.get_executions() == []
    assert store.get_artifacts() == []
    assert [c.name for c in store.get_contexts()] == ["taken"]


def test_put_execution_failing_on_an_event_leaves_nothing_behind(store, types):
    with pytest.raises(InvalidArgumentError):
        store.put_execution(execution(types), [(artifact(types), pb.Event())], [context(types, "run")])
    assert nothing_stored(store)


# --- put_lineage_subgraph -----------------------------------------------------------------------


def test_lineage_subgraph_writes_nodes_and_events_by_index(store, types):
    execution_ids, artifact_ids, context_ids = store.put_lineage_subgraph(
        [execution(types, name="e0"), execution(types, name="e1")],
        [artifact(types, uri="/a0"), artifact(types, uri="/a1")],
        [context(types, "run")],
        [(0, 0, pb.Event(type=pb.Event.INPUT)), (0, 1, output()), (1, 1, pb.Event(type=pb.Event.INPUT))],
    )
    e0, e1 = execution_ids
    a0, a1 = artifact_ids
    assert [e.name for e in store.get_executions_by_id(execution_ids)] == ["e0", "e1"]
    assert [a.uri for a in store.get_artifacts_by_id(artifact_ids)] == ["/a0", "/a1"]
    assert {
        (e.execution_id, e.artifact_id, e.type) for e in store.get_events_by_execution_ids(execution_ids)
    } == {
        (e0, a0, pb.Event.INPUT),
        (e0, a1, pb.Event.OUTPUT),
        (e1, a1, pb.Event.INPUT),
    }
    [context_id] = context_ids
    assert [a.id for a in store.get_artifacts_by_context(context_id)] == artifact_ids
    assert sorted(e.id for e in store.get_executions_by_context(context_id)) == execution_ids


def test_lineage_subgraph_edge_may_name_a_stored_node_by_event_id_instead_of_index(store, types):
    [stored_execution] = store.put_executions([execution(types)])
    [stored_artifact] = store.put_artifacts([artifact(types)])
    execution_ids, artifact_ids, _ = store.put_lineage_subgraph(
        [execution(types)],
        [artifact(types)],
        [],
        [
            (None, 0, output(execution_id=stored_execution)),
            (0, None, pb.Event(type=pb.Event.INPUT, artifact_id=stored_artifact)),
        ],
    )
    assert [(e.artifact_id, e.type) for e in store.get_events_by_execution_ids([stored_execution])] == [
        (artifact_ids[0], pb.Event.OUTPUT)
    ]
    assert [(e.execution_id, e.type) for e in store.get_events_by_artifact_ids([stored_artifact])] == [
        (execution_ids[0], pb.Event.INPUT)
    ]


@pytest.mark.parametrize("edge", [(1, 0), (0, 1), (-1, 0), (0, -1)])
def test_lineage_subgraph_edge_index_out_of_bounds_is_out_of_range(store, types, edge):
    # MLMD: OUT_OF_RANGE "The event_edge has an execution_index 5 that is outside the bounds ...".
    with pytest.raises(OutOfRangeError):
        store.put_lineage_subgraph(
            [execution(types)],
            [artifact(types)],
            [context(types, "run")],
            [(*edge, pb.Event(type=pb.Event.INPUT))],
        )
    assert nothing_stored(store)


@pytest.mark.parametrize(
    "edge",
    [
        (None, 0, pb.Event(type=pb.Event.INPUT)),
        (0, None, pb.Event(type=pb.Event.INPUT)),
        (None, None, pb.Event(type=pb.Event.INPUT)),
    ],
)
def test_lineage_subgraph_edge_without_index_or_event_id_is_invalid_argument(store, types, edge):
    with pytest.raises(InvalidArgumentError):
        store.put_lineage_subgraph([execution(types)], [artifact(types)], [], [edge])
    assert nothing_stored(store)


def test_lineage_subgraph_edge_whose_event_ids_disagree_with_its_indexes_is_invalid_argument(store, types):
    [stored_execution] = store.put_executions([execution(types)])
    [stored_artifact] = store.put_artifacts([artifact(types)])
    with pytest.raises(InvalidArgumentError):
        store.put_lineage_subgraph(
            [execution(types, id=stored_execution)],
            [artifact(types, id=stored_artifact)],
            [],
            [(0, 0, output(execution_id=stored_execution + 100))],
        )
    with pytest.raises(InvalidArgumentError):
        store.put_lineage_subgraph(
            [execution(types, id=stored_execution)],
            [artifact(types, id=stored_artifact)],
            [],
            [(0, 0, output(artifact_id=stored_artifact + 100))],
        )
    assert store.get_events_by_execution_ids([stored_execution]) == []


def test_lineage_subgraph_with_a_stored_context_name_is_already_exists_and_stores_nothing(store, types):
    store.put_contexts([context(types, "run")])
    with pytest.raises(AlreadyExistsError):
        store.put_lineage_subgraph(
            [execution(types)], [artifact(types)], [context(types, "run")], [(0, 0, output())]
        )
    assert store.get_executions() == [] and store.get_artifacts() == []


def test_lineage_subgraph_reuses_a_stored_context_when_asked(store, types):
    [context_id] = store.put_contexts([context(types, "run")])
    execution_ids, _, context_ids = store.put_lineage_subgraph(
        [execution(types)],
        [artifact(types)],
        [context(types, "run")],
        [(0, 0, output())],
        reuse_context_if_already_exist=True,
    )
    assert context_ids == [context_id]
    assert [e.id for e in store.get_executions_by_context(context_id)] == execution_ids


def test_lineage_subgraph_reuses_a_stored_artifact_by_external_id_when_asked(store, types):
    [stored_id] = store.put_artifacts([artifact(types, external_id="model-1", uri="/old")])
    _, artifact_ids, _ = store.put_lineage_subgraph(
        [],
        [artifact(types, external_id="model-1", uri="/new")],
        [],
        [],
        reuse_artifact_if_already_exist_by_external_id=True,
    )
    assert artifact_ids == [stored_id]
    assert [a.uri for a in store.get_artifacts()] == ["/new"]


def test_lineage_subgraph_failing_on_its_last_event_leaves_nothing_behind(store, types):
    with pytest.raises(AlreadyExistsError):
        store.put_lineage_subgraph(
            [execution(types)],
            [artifact(types)],
            [context(types, "run")],
            [(0, 0, output()), (0, 0, output())],
        )
    assert nothing_stored(store)
