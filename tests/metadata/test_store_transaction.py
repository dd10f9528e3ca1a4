"""Store.transaction(): one write unit of work (commit together, roll back together, lock, errors, read-only)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, insert, text

from mlineage.errors import AlreadyExistsError, FailedPreconditionError, NotFoundError
from mlineage.metadata.openlineage_events import RawEvent
from mlineage.metadata.store import Store
from mlineage.migrations import runner
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metric_series_pb2 as mpb
from mlineage.schema import tables as t


class Boom(Exception):
    pass


def test_operations_inside_a_transaction_commit_together(store):
    with store.transaction() as tx:
        type_id = tx.put_artifact_type(pb.ArtifactType(name="Model"))
        [artifact_id] = tx.put_artifacts([pb.Artifact(type_id=type_id, uri="/m")])
        # A store method called inside the block joins the same unit of work.
        [context_id] = store.put_contexts([pb.Context(type_id=tx.put_context_type(pb.ContextType(name="P")), name="p")])
        tx.put_attributions_and_associations([pb.Attribution(artifact_id=artifact_id, context_id=context_id)], [])
    assert [a.uri for a in store.get_artifacts_by_context(context_id)] == ["/m"]


def test_an_error_inside_the_block_rolls_everything_back(store):
    with pytest.raises(Boom), store.transaction() as tx:
        type_id = tx.put_artifact_type(pb.ArtifactType(name="Model"))
        tx.put_artifacts([pb.Artifact(type_id=type_id, uri="/m")])
        store.put_contexts([pb.Context(type_id=tx.put_context_type(pb.ContextType(name="P")), name="p")])
        raise Boom
    with pytest.raises(NotFoundError):  # the type cache forgot the rolled-back type too
        store.get_artifact_type("Model")
    assert store.get_artifacts() == [] and store.get_contexts() == []


def test_a_failed_operation_caught_inside_the_block_commits_nothing(store):
    type_id = store.put_execution_type(pb.ExecutionType(name="Run"))
    [execution_id] = store.put_executions([pb.Execution(type_id=type_id)])
    artifact_type = store.put_artifact_type(pb.ArtifactType(name="Data"))
    with pytest.raises(FailedPreconditionError, match="rolled back"), store.transaction() as tx:
        [artifact_id] = tx.put_artifacts([pb.Artifact(type_id=artifact_type, uri="/d")])
        event = pb.Event(artifact_id=artifact_id, execution_id=execution_id, type=pb.Event.INPUT)
        tx.put_events([event])
        with pytest.raises(AlreadyExistsError):
            tx.put_events([event])
        with pytest.raises(FailedPreconditionError):
            tx.put_artifacts([pb.Artifact(type_id=artifact_type, uri="/e")])
    assert store.get_artifacts() == [] and store.get_events_by_execution_ids([execution_id]) == []


def test_database_errors_inside_are_mapped_like_every_store_method(store):
    event = RawEvent("2024-05-01T12:00:00Z", "START", None, None, None, None, "{}")
    with store.transaction() as tx:
        first = tx.add_openlineage_event(event)
    with pytest.raises(AlreadyExistsError), store.transaction() as tx:  # not sqlalchemy's IntegrityError
        tx.connection.execute(insert(t.openlineage_events).values(
            id=first, namespace=store.namespace, received_time_since_epoch=1, event_time="x", payload="{}"))


def test_a_transaction_is_used_only_inside_its_block(store):
    with store.transaction() as tx:
        pass
    with pytest.raises(FailedPreconditionError, match="inside its `with` block"):
        tx.put_artifact_type(pb.ArtifactType(name="Late"))
    with pytest.raises(NotFoundError):
        store.get_artifact_type("Late")


def test_a_read_only_store_refuses_a_transaction(store_url):
    with Store(store_url) as store:
        store.put_artifact_type(pb.ArtifactType(name="Old"))
    engine = create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffff_future'"))
    try:
        with Store(store_url) as store:
            assert store.read_only
            with pytest.raises(FailedPreconditionError, match="newer"), store.transaction():
                pass  # pragma: no cover
    finally:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": runner.head_revision()})
        engine.dispose()


def test_a_transaction_holds_the_store_write_lock_until_it_ends(tmp_path):
    with Store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        type_id = store.put_artifact_type(pb.ArtifactType(name="Data"))
        done = threading.Event()

        def other_writer() -> None:
            store.put_artifacts([pb.Artifact(type_id=type_id, uri="/other")])
            done.set()

        with store.transaction() as tx:
            tx.put_artifacts([pb.Artifact(type_id=type_id, uri="/mine")])
            writer = threading.Thread(target=other_writer)
            writer.start()
            assert not done.wait(0.5)  # queued on the store's lock, not failing with "database is locked"
        writer.join(30)
        assert done.is_set()
        assert sorted(a.uri for a in store.get_artifacts()) == ["/mine", "/other"]


def test_metric_points_are_store_writes_that_join_a_transaction(store):
    type_id = store.put_execution_type(pb.ExecutionType(name="Train"))
    series = [mpb.MetricSeries(name="loss", seq=[0, 1], value=[0.9, 0.5])]
    with pytest.raises(Boom), store.transaction() as tx:
        [execution_id] = tx.put_executions([pb.Execution(type_id=type_id, name="rolled-back")])
        series[0].execution_id = execution_id
        assert tx.put_metric_series(series) == 2
        raise Boom
    assert store.get_executions() == []
    with store.transaction() as tx:
        [execution_id] = tx.put_executions([pb.Execution(type_id=type_id, name="kept")])
        series[0].execution_id = execution_id
        assert tx.put_metric_series(series) == 2
    assert store.put_metric_series(series) == 0  # a replay stores nothing twice
    [stored] = store.get_metric_series([execution_id])
    assert (stored.name, list(stored.seq), list(stored.value)) == ("loss", [0, 1], [0.9, 0.5])
    with pytest.raises(NotFoundError):
        store.put_metric_series([mpb.MetricSeries(execution_id=execution_id + 1000, name="x", seq=[0], value=[1.0])])


def test_kept_openlineage_events_are_read_back_through_the_store_in_pages(store):
    with store.transaction() as tx:
        ids = [tx.add_openlineage_event(RawEvent("2024-05-01T12:00:00Z", "START", run, "ml", "train", None,
                                                 f'{{"n":{n}}}'))
               for n, run in enumerate(["a", "b", "a"])]
    assert store.get_openlineage_events() == [(ids[0], '{"n":0}'), (ids[1], '{"n":1}'), (ids[2], '{"n":2}')]
    assert store.get_openlineage_events(run_id="a") == [(ids[0], '{"n":0}'), (ids[2], '{"n":2}')]
    assert store.get_openlineage_events(after_id=ids[0], limit=1) == [(ids[1], '{"n":1}')]
