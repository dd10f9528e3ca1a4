"""Events: put_events and the two event reads, as MLMD defines them (on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from mlineage import metadata_store_pb2 as pb
from mlineage.errors import AlreadyExistsError, InvalidArgumentError
from mlineage.metadata.store import now_ms


@pytest.fixture
def graph(store):
    """Two artifacts and two executions, no events yet."""
    artifact_type = store.put_artifact_type(pb.ArtifactType(name="Examples"))
    execution_type = store.put_execution_type(pb.ExecutionType(name="Trainer"))
    a1, a2 = store.put_artifacts([pb.Artifact(type_id=artifact_type), pb.Artifact(type_id=artifact_type)])
    e1, e2 = store.put_executions(
        [pb.Execution(type_id=execution_type), pb.Execution(type_id=execution_type)]
    )
    return a1, a2, e1, e2


def event(artifact_id: int, execution_id: int, kind=pb.Event.INPUT, **fields) -> pb.Event:
    return pb.Event(artifact_id=artifact_id, execution_id=execution_id, type=kind, **fields)


def test_event_round_trips_with_path_steps_in_order(store, graph):
    a1, _, e1, _ = graph
    written = event(a1, e1)
    for step in ({"key": "examples"}, {"index": 0}, {"key": "split"}, {"index": 7}):
        written.path.steps.add(**step)
    store.put_events([written])
    [read] = store.get_events_by_execution_ids([e1])
    assert (read.artifact_id, read.execution_id, read.type) == (a1, e1, pb.Event.INPUT)
    assert [(s.WhichOneof("value"), getattr(s, s.WhichOneof("value"))) for s in read.path.steps] == [
        ("key", "examples"),
        ("index", 0),
        ("key", "split"),
        ("index", 7),
    ]


def test_event_without_path_reads_back_without_path(store, graph):
    a1, _, e1, _ = graph
    store.put_events([event(a1, e1)])
    [read] = store.get_events_by_artifact_ids([a1])
    assert not read.HasField("path")


def test_event_time_is_set_by_the_server_when_absent(store, graph):
    a1, _, e1, _ = graph
    before = now_ms()
    store.put_events([event(a1, e1)])
    after = now_ms()
    [read] = store.get_events_by_execution_ids([e1])
    assert before <= read.milliseconds_since_epoch <= after


def test_event_time_given_by_the_caller_is_kept(store, graph):
    a1, _, e1, _ = graph
    store.put_events([event(a1, e1, milliseconds_since_epoch=12345)])
    [read] = store.get_events_by_execution_ids([e1])
    assert read.milliseconds_since_epoch == 12345


@pytest.mark.parametrize(
    "kind",
    [
        pb.Event.DECLARED_OUTPUT,
        pb.Event.DECLARED_INPUT,
        pb.Event.INPUT,
        pb.Event.OUTPUT,
        pb.Event.INTERNAL_INPUT,
        pb.Event.INTERNAL_OUTPUT,
        pb.Event.PENDING_OUTPUT,
    ],
)
def test_every_event_type_round_trips(store, graph, kind):
    a1, _, e1, _ = graph
    store.put_events([event(a1, e1, kind)])
    assert [e.type for e in store.get_events_by_execution_ids([e1])] == [kind]


def test_event_to_a_missing_artifact_is_invalid_argument(store, graph):
    _, _, e1, _ = graph
    with pytest.raises(InvalidArgumentError):
        store.put_events([event(999, e1)])
    assert store.get_events_by_execution_ids([e1]) == []


def test_event_to_a_missing_execution_is_invalid_argument(store, graph):
    a1, _, _, _ = graph
    with pytest.raises(InvalidArgumentError):
        store.put_events([event(a1, 999)])
    assert store.get_events_by_artifact_ids([a1]) == []


def test_event_without_artifact_id_is_invalid_argument(store, graph):
    _, _, e1, _ = graph
    with pytest.raises(InvalidArgumentError):
        store.put_events([pb.Event(execution_id=e1, type=pb.Event.INPUT)])


def test_event_without_execution_id_is_invalid_argument(store, graph):
    a1, _, _, _ = graph
    with pytest.raises(InvalidArgumentError):
        store.put_events([pb.Event(artifact_id=a1, type=pb.Event.INPUT)])


@pytest.mark.parametrize("kind", [None, pb.Event.UNKNOWN])
def test_event_without_type_is_invalid_argument(store, graph, kind):
    a1, _, e1, _ = graph
    written = pb.Event(artifact_id=a1, execution_id=e1)
    if kind is not None:
        written.type = kind
    with pytest.raises(InvalidArgumentError):
        store.put_events([written])
    assert store.get_events_by_execution_ids([e1]) == []


def test_duplicate_event_is_already_exists(store, graph):
    a1, _, e1, _ = graph
    store.put_events([event(a1, e1)])
    with pytest.raises(AlreadyExistsError):
        store.put_events([event(a1, e1, milliseconds_since_epoch=1)])
    assert len(store.get_events_by_execution_ids([e1])) == 1


def test_duplicate_event_within_one_request_is_already_exists_and_stores_nothing(store, graph):
    a1, a2, e1, _ = graph
    with pytest.raises(AlreadyExistsError):
        store.put_events([event(a2, e1), event(a1, e1), event(a1, e1)])
    assert store.get_events_by_execution_ids([e1]) == []


def test_same_artifact_and_execution_with_another_type_is_a_new_event(store, graph):
    a1, _, e1, _ = graph
    store.put_events([event(a1, e1, pb.Event.DECLARED_INPUT)])
    store.put_events([event(a1, e1, pb.Event.INPUT)])
    assert [e.type for e in store.get_events_by_execution_ids([e1])] == [
        pb.Event.DECLARED_INPUT,
        pb.Event.INPUT,
    ]


def test_a_bad_event_rolls_back_the_good_ones_of_the_same_request(store, graph):
    a1, a2, e1, _ = graph
    with pytest.raises(InvalidArgumentError):
        store.put_events([event(a1, e1), event(a2, 999)])
    assert store.get_events_by_execution_ids([e1]) == []


def test_events_by_execution_ids_returns_the_events_of_those_executions_only(store, graph):
    a1, a2, e1, e2 = graph
    store.put_events([event(a1, e1), event(a2, e1, pb.Event.OUTPUT), event(a2, e2)])
    assert {(e.artifact_id, e.execution_id) for e in store.get_events_by_execution_ids([e1])} == {
        (a1, e1),
        (a2, e1),
    }
    assert {(e.artifact_id, e.execution_id) for e in store.get_events_by_execution_ids([e2])} == {(a2, e2)}
    assert len(store.get_events_by_execution_ids([e1, e2])) == 3


def test_events_by_artifact_ids_returns_the_events_of_those_artifacts_only(store, graph):
    a1, a2, e1, e2 = graph
    store.put_events([event(a1, e1), event(a2, e1, pb.Event.OUTPUT), event(a2, e2)])
    assert {(e.artifact_id, e.execution_id) for e in store.get_events_by_artifact_ids([a2])} == {
        (a2, e1),
        (a2, e2),
    }
    assert len(store.get_events_by_artifact_ids([a1, a2])) == 3


def test_event_reads_skip_unknown_ids_and_accept_an_empty_list(store, graph):
    a1, _, e1, _ = graph
    store.put_events([event(a1, e1)])
    assert store.get_events_by_execution_ids([999]) == []
    assert store.get_events_by_artifact_ids([]) == []
    assert len(store.get_events_by_execution_ids([e1, 999, e1])) == 1
