"""History through the store: revisions of every change, reads as of past moments, deletion with tombstones.

Each test takes snapshots of what the store answers at several moments (as it goes)
and then checks that the same reads, asked ``as_of`` those moments, answer exactly
the snapshots, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
import time

import pytest

from mlineage import metadata_store_pb2 as pb
from mlineage.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from mlineage.metadata import history
from mlineage.metadata.options import ListOptions


def _moment() -> int:
    """Now, in ms, with the next write at least one millisecond later."""
    time.sleep(0.003)
    moment = time.time_ns() // 1_000_000
    time.sleep(0.003)
    return moment


def _model_type(store) -> int:
    return store.put_artifact_type(pb.ArtifactType(name="Model", properties={"accuracy": pb.DOUBLE}))


def _artifact(type_id: int, uri: str, **custom: str) -> pb.Artifact:
    artifact = pb.Artifact(type_id=type_id, uri=uri, state=pb.Artifact.LIVE)
    for key, value in custom.items():
        artifact.custom_properties[key].string_value = value
    return artifact


def _pipeline(store):
    """data -> trainer -> model, all in one run context; returns their ids."""
    data_type = store.put_artifact_type(pb.ArtifactType(name="Examples"))
    model_type = _model_type(store)
    trainer = store.put_execution_type(pb.ExecutionType(name="Trainer"))
    run_type = store.put_context_type(pb.ContextType(name="Run"))
    [data] = store.put_artifacts([_artifact(data_type, "/data/1")])
    [model] = store.put_artifacts([_artifact(model_type, "/model/1")])
    [run] = store.put_contexts([pb.Context(type_id=run_type, name="run-1")])
    execution_id, _, _ = store.put_execution(
        pb.Execution(type_id=trainer, last_known_state=pb.Execution.COMPLETE),
        [
            (store.get_artifacts_by_id([data])[0], pb.Event(type=pb.Event.INPUT)),
            (store.get_artifacts_by_id([model])[0], pb.Event(type=pb.Event.OUTPUT)),
        ],
        store.get_contexts_by_id([run]),
    )
    return {"data": data, "model": model, "run": run, "trainer": execution_id, "model_type": model_type}


def test_every_update_keeps_a_revision_and_as_of_reads_answer_what_the_store_said(store):
    type_id = _model_type(store)
    [artifact_id] = store.put_artifacts([_artifact(type_id, "/m/1", note="first")])
    snapshots = [(_moment(), store.get_artifacts_by_id([artifact_id]))]
    for version in (2, 3):
        artifact = store.get_artifacts_by_id([artifact_id])[0]
        artifact.uri = f"/m/{version}"
        artifact.properties["accuracy"].double_value = version / 10
        artifact.custom_properties["note"].string_value = f"version {version}"
        store.put_artifacts([artifact])
        snapshots.append((_moment(), store.get_artifacts_by_id([artifact_id])))

    for moment, answer in snapshots:
        assert store.as_of(moment).get_artifacts_by_id([artifact_id]) == answer
    # What a filter matched then, not now.
    old = store.as_of(snapshots[0][0])
    assert [a.id for a in old.get_artifacts(ListOptions(filter_query="uri = '/m/1'"))] == [artifact_id]
    assert old.get_artifacts(ListOptions(filter_query="uri = '/m/3'")) == []
    assert [a.id for a in store.get_artifacts(ListOptions(filter_query="uri = '/m/3'"))] == [artifact_id]

    revisions = store.get_artifact_history(artifact_id)
    assert [r.revision for r in revisions] == [1, 2, 3]
    assert [r.operation for r in revisions] == ["create", "update", "update"]
    assert revisions[0].node == snapshots[0][1][0]
    assert revisions[2].node == snapshots[2][1][0]
    assert set(revisions[1].changed) == {"uri", "properties.accuracy", "custom_properties.note"}
    assert all(r.surface == "python" for r in revisions)
    times = [r.time_ms for r in revisions]
    assert times == sorted(times)
    assert snapshots[0][0] > times[0] and snapshots[0][0] < times[1]


def test_a_put_that_changes_nothing_adds_no_revision(store):
    type_id = _model_type(store)
    [artifact_id] = store.put_artifacts([_artifact(type_id, "/m/1")])
    store.put_artifacts(store.get_artifacts_by_id([artifact_id]))
    assert [r.revision for r in store.get_artifact_history(artifact_id)] == [1]


def test_as_of_lists_paging_and_nodes_created_since(store):
    type_id = _model_type(store)
    ids = store.put_artifacts([_artifact(type_id, f"/m/{i}") for i in range(5)])
    moment = _moment()
    store.put_artifacts([_artifact(type_id, f"/m/{i}") for i in range(5, 9)])
    then = store.as_of(moment)
    assert [a.id for a in then.get_artifacts()] == ids
    assert [a.id for a in then.get_artifacts_by_type("Model")] == ids
    first, token = then.list_nodes("artifact", pb.ListOperationOptions(max_result_size=2))
    assert [a.id for a in first] == ids[:2] and token
    second, _ = then.list_nodes(
        "artifact", pb.ListOperationOptions(max_result_size=10, next_page_token=token)
    )
    assert [a.id for a in second] == ids[2:]
    assert [a.id for a in then.get_artifacts(ListOptions(filter_query="uri LIKE '/m/%'", limit=100))] == ids


def test_as_of_neighbourhood_and_lineage(store):
    ids = _pipeline(store)
    before = _moment()
    snapshot = {
        "contexts": store.get_contexts_by_artifact(ids["model"]),
        "events": store.get_events_by_execution_ids([ids["trainer"]]),
        "by_context": store.get_artifacts_by_context(ids["run"]),
    }
    options = pb.LineageSubgraphQueryOptions(
        starting_artifacts=pb.LineageSubgraphQueryOptions.StartingNodes(filter_query=f"id = {ids['model']}"),
        max_num_hops=4,
    )
    lineage_then = store.get_lineage_subgraph(options)
    # A second training run adds a new model downstream of the same data.
    [model2] = store.put_artifacts([_artifact(ids["model_type"], "/model/2")])
    store.put_execution(
        pb.Execution(type_id=store.get_execution_type("Trainer").id),
        [
            (pb.Artifact(id=ids["data"]), pb.Event(type=pb.Event.INPUT)),
            (pb.Artifact(id=model2), pb.Event(type=pb.Event.OUTPUT)),
        ],
        store.get_contexts_by_id([ids["run"]]),
    )
    then = store.as_of(before)
    assert then.get_contexts_by_artifact(ids["model"]) == snapshot["contexts"]
    assert then.get_events_by_execution_ids([ids["trainer"]]) == snapshot["events"]
    assert then.get_artifacts_by_context(ids["run"]) == snapshot["by_context"]
    down = pb.LineageSubgraphQueryOptions(
        starting_artifacts=pb.LineageSubgraphQueryOptions.StartingNodes(filter_query=f"id = {ids['data']}"),
        max_num_hops=4,
    )
    assert {a.id for a in then.get_lineage_subgraph(down).artifacts} == {ids["data"], ids["model"]}
    assert {a.id for a in store.get_lineage_subgraph(down).artifacts} == {ids["data"], ids["model"], model2}
    assert then.get_lineage_subgraph(options) == lineage_then


def test_deletion_hides_the_node_and_as_of_sees_it_whole(store):
    ids = _pipeline(store)
    whole = store.get_artifacts_by_id([ids["data"]])
    before = _moment()
    store.delete_artifacts([ids["data"]])
    assert store.get_artifacts_by_id([ids["data"]]) == []
    assert ids["data"] not in {a.id for a in store.get_artifacts()}
    # MLMD's surface: as a deleted row would, the node and its events are gone.
    assert {e.artifact_id for e in store.get_events_by_execution_ids([ids["trainer"]])} == {ids["model"]}
    # Before the deletion it is whole.
    assert store.as_of(before).get_artifacts_by_id([ids["data"]]) == whole
    revisions = store.get_artifact_history(ids["data"])
    assert [r.operation for r in revisions] == ["create", "delete"]
    assert revisions[-1].node is None


def test_deleting_missing_ids_and_types_in_use_change_nothing(store):
    ids = _pipeline(store)
    with pytest.raises(NotFoundError):
        store.delete_artifacts([ids["model"], 987654])
    assert store.get_artifacts_by_id([ids["model"]])
    with pytest.raises(FailedPreconditionError):
        store.delete_artifact_type("Model")
    assert store.get_artifact_type("Model").id == ids["model_type"]


def test_bad_moments_are_refused(store):
    _model_type(store)
    with pytest.raises(InvalidArgumentError, match="future"):
        store.as_of(time.time_ns() // 1_000_000 + 60_000)
    with pytest.raises(InvalidArgumentError, match="before the store existed"):
        store.as_of(1)
    with pytest.raises(InvalidArgumentError, match="RFC 3339"):
        store.as_of("yesterday")
    with pytest.raises(InvalidArgumentError, match="time zone"):
        store.as_of("2026-05-01T12:00:00")
    assert store.as_of("2100-01-01T00:00:00Z" if False else _iso_now()).get_artifact_types()


def _iso_now() -> str:
    from datetime import datetime, timezone

    time.sleep(0.002)
    return datetime.now(timezone.utc).isoformat()


def test_the_view_is_read_only(store):
    view = store.as_of(_moment_after_a_write(store))
    assert view.read_only
    assert not hasattr(view, "put_artifacts")
    assert not hasattr(view, "delete_artifacts")


def _moment_after_a_write(store) -> int:
    _model_type(store)
    return _moment()


def test_surface_and_peer_are_recorded(store):
    type_id = _model_type(store)
    with history.calling_as("rest", peer="10.0.0.7:5000"):
        [artifact_id] = store.put_artifacts([_artifact(type_id, "/m/1")])
    [revision] = store.get_artifact_history(artifact_id)
    assert (revision.surface, revision.peer, revision.actor) == ("rest", "10.0.0.7:5000", None)


def test_concurrent_writers_lose_no_revision(store):
    type_id = _model_type(store)
    [artifact_id] = store.put_artifacts([_artifact(type_id, "/m/0")])
    errors = []

    def writer(worker: int) -> None:
        try:
            for i in range(5):
                artifact = pb.Artifact(id=artifact_id, type_id=type_id)
                artifact.custom_properties[f"w{worker}"].int_value = i
                store.put_artifacts([artifact], field_mask_paths=[f"custom_properties.w{worker}"])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    revisions = store.get_artifact_history(artifact_id)
    assert [r.revision for r in revisions] == list(range(1, 22))
    final = store.get_artifacts_by_id([artifact_id])[0]
    assert {k: v.int_value for k, v in final.custom_properties.items()} == {f"w{w}": 4 for w in range(4)}
    assert revisions[-1].node == final


def test_type_evolution_keeps_the_old_type(store):
    type_id = _model_type(store)
    moment = _moment()
    store.put_artifact_type(
        pb.ArtifactType(name="Model", properties={"accuracy": pb.DOUBLE, "loss": pb.DOUBLE}),
        can_add_fields=True,
    )
    assert set(store.get_artifact_type("Model").properties) == {"accuracy", "loss"}
    assert set(store.as_of(moment).get_artifact_type("Model").properties) == {"accuracy"}
    assert store.as_of(moment).get_artifact_types_by_id([type_id])[0].properties == {"accuracy": pb.DOUBLE}


def test_lineage_runs_through_a_deleted_node_and_shows_its_tombstone(store):
    from mlineage.lineage import lineage

    ids = _pipeline(store)
    # raw data -> ingest -> data -> trainer -> model: delete the data in the middle.
    raw_type = store.put_artifact_type(pb.ArtifactType(name="RawData"))
    [raw] = store.put_artifacts([_artifact(raw_type, "/raw/1")])
    ingest = store.put_execution_type(pb.ExecutionType(name="Ingest"))
    store.put_execution(
        pb.Execution(type_id=ingest),
        [
            (store.get_artifacts_by_id([raw])[0], pb.Event(type=pb.Event.INPUT)),
            (store.get_artifacts_by_id([ids["data"]])[0], pb.Event(type=pb.Event.OUTPUT)),
        ],
        [],
    )
    whole = lineage(store, artifact_ids=[ids["model"]], direction="upstream", max_hops=10)
    assert raw in {a.id for a in whole.artifacts()} and whole.tombstones == []
    store.delete_artifacts([ids["data"]])

    after = lineage(store, artifact_ids=[ids["model"]], direction="upstream", max_hops=10)
    assert raw in {a.id for a in after.artifacts()}  # the path to the raw data still holds
    assert ids["data"] not in {a.id for a in after.artifacts()}
    [tombstone] = after.tombstones
    assert (tombstone.kind, tombstone.id, tombstone.type_name) == ("artifact", ids["data"], "Examples")
    assert tombstone.deleted_ms is not None
    assert {e.artifact_id for e in after.graph.events} >= {ids["data"], raw}
    # MLMD's own lineage RPC answers as a deleted row would: no path through the node.
    down = pb.LineageSubgraphQueryOptions(
        starting_artifacts=pb.LineageSubgraphQueryOptions.StartingNodes(filter_query=f"id = {ids['model']}"),
        max_num_hops=10,
        direction=pb.LineageSubgraphQueryOptions.UPSTREAM,
    )
    assert raw not in {a.id for a in store.get_lineage_subgraph(down).artifacts}


def test_tombstones_as_of_a_moment_are_what_lineage_answered_then(store):
    from mlineage.lineage import lineage
    from mlineage.lineage.export import to_networkx

    ids = _pipeline(store)
    before = _moment()
    store.delete_artifacts([ids["data"]])
    after = _moment()
    now = lineage(store, artifact_ids=[ids["model"]], direction="upstream", max_hops=10)
    assert [t.id for t in now.tombstones] == [ids["data"]]
    then = lineage(store.as_of(after), artifact_ids=[ids["model"]], direction="upstream", max_hops=10)
    assert then.graph == now.graph and then.tombstones == now.tombstones and then.hops == now.hops
    whole = lineage(store.as_of(before), artifact_ids=[ids["model"]], direction="upstream", max_hops=10)
    assert whole.tombstones == [] and ids["data"] in {a.id for a in whole.artifacts()}
    drawn = to_networkx(now)
    assert drawn.nodes[("artifact", ids["data"])]["deleted"] is True
    assert drawn.has_edge(("artifact", ids["data"]), ("execution", ids["trainer"]))
