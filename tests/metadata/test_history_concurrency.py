"""History under concurrent writers of one row (PostgreSQL, MySQL; SQLite has one writer at a time).

A version of a row is valid over the changes ``change_id <= c < closed_by``, so
the versions of one row must be closed in the order they were written: each
closed by the change that wrote the next. Writers that take turns on a row must
therefore also take their change ids in that order, and each must merge onto
what the one before it committed. These tests race writers on one row and then
check the chain of versions directly, every revision as the store answers it,
and the live node against the last revision.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import text

from mlineage import metadata_store_pb2 as pb
from mlineage.errors import AbortedError
from mlineage.metadata import history
from mlineage.metadata.kinds import ARTIFACT
from mlineage.metadata.store import Store
from mlineage.schema import tables as t

WORKERS = 8
UPDATES = 8

# SQLite has one writer at a time: nothing to race there.
pytestmark = pytest.mark.backends("postgresql", "mysql")


def _chain(store, table, row_id: int) -> list[history.VersionRow]:
    """The versions of one row, checked to form one chain: revisions 1..n, each closed by the change
    that wrote the next, each closed after it was written."""
    with store.reading() as connection:
        versions = history.versions_of(connection, table, row_id)
    assert [v.revision for v in versions] == list(range(1, len(versions) + 1))
    for before, after in itertools.pairwise(versions):
        assert before.closed_by == after.change_id, (before, after)
        assert before.change_id < before.closed_by, (before, after)
    assert versions[-1].closed_by is None
    return versions


def _race(work: Callable[[int], None], workers: int = WORKERS) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def run(worker: int) -> None:
        try:
            start.wait()
            work(worker)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []


def _counters(node) -> dict[str, int]:
    return {key: value.int_value for key, value in node.custom_properties.items()}


def _masked_writer(store, artifact_id: int, type_id: int) -> Callable[[int], None]:
    """Worker w sets its own counter custom_properties.w<w> to 1, 2, … UPDATES, one masked update each."""

    def writer(worker: int) -> None:
        for i in range(1, UPDATES + 1):
            artifact = pb.Artifact(id=artifact_id, type_id=type_id)
            artifact.custom_properties[f"w{worker}"].int_value = i
            store.put_artifacts([artifact], field_mask_paths=[f"custom_properties.w{worker}"])

    return writer


def _model(store) -> int:
    return store.put_artifact_type(pb.ArtifactType(name="Model"))


def test_masked_updates_of_one_artifact_form_one_chain_of_revisions(store):
    type_id = _model(store)
    [artifact_id] = store.put_artifacts([pb.Artifact(type_id=type_id, uri="/m")])

    _race(_masked_writer(store, artifact_id, type_id))
    versions = _chain(store, t.artifacts, artifact_id)
    assert len(versions) == 1 + WORKERS * UPDATES
    revisions = store.get_artifact_history(artifact_id)
    # Each revision is the one before with one worker's counter one higher: no update undone, none lost.
    previous: dict[str, int] = {}
    for revision in revisions:
        counters = _counters(revision.node)
        moved = {k: v for k, v in counters.items() if previous.get(k, 0) != v}
        if revision.revision > 1:
            assert len(moved) == 1 and all(v == previous.get(k, 0) + 1 for k, v in moved.items()), (
                revision.revision, previous, counters)
        previous = counters
    live = store.get_artifacts_by_id([artifact_id])[0]
    assert _counters(live) == {f"w{w}": UPDATES for w in range(WORKERS)}
    assert revisions[-1].node == live


def test_type_evolutions_race_into_one_chain(store):
    store.put_artifact_type(pb.ArtifactType(name="Grown"))

    def writer(worker: int) -> None:
        for i in range(3):
            store.put_artifact_type(
                pb.ArtifactType(name="Grown", properties={f"p{worker}_{i}": pb.INT}), can_add_fields=True,
                can_omit_fields=True,
            )

    _race(writer, workers=4)
    grown = store.get_artifact_type("Grown")
    assert set(grown.properties) == {f"p{w}_{i}" for w in range(4) for i in range(3)}
    assert len(_chain(store, t.types, grown.id)) == 1 + 4 * 3


def test_updates_racing_a_deletion_keep_the_chain(store):
    type_id = _model(store)
    [artifact_id] = store.put_artifacts([pb.Artifact(type_id=type_id, uri="/gone")])

    def writer(worker: int) -> None:
        if worker == 0:
            time.sleep(0.02)
            store.delete_artifacts([artifact_id])
            return
        for i in range(1, 30):
            artifact = pb.Artifact(id=artifact_id, type_id=type_id)
            artifact.custom_properties[f"w{worker}"].int_value = i
            try:
                store.put_artifacts([artifact], field_mask_paths=[f"custom_properties.w{worker}"])
            except Exception as exc:  # noqa: BLE001 - the artifact is gone: MLMD's answer
                assert "Cannot find the given id" in str(exc)
                return

    _race(writer, workers=4)
    assert store.get_artifacts_by_id([artifact_id]) == []
    with store.reading() as connection:
        versions = history.versions_of(connection, t.artifacts, artifact_id)
    for before, after in itertools.pairwise(versions):
        assert before.closed_by == after.change_id and before.change_id < before.closed_by
    assert versions[-1].closed_by is not None  # deleted: the last version is closed too
    assert store.get_artifact_history(artifact_id)[-1].operation == "delete"


def _waiting_for_a_lock(store) -> bool:
    with store.reading() as connection:
        if connection.dialect.name == "postgresql":
            query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        else:
            query = "SELECT count(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'"
        return connection.execute(text(query)).scalar() > 0


def _overtaken(store, artifact_id: int, type_id: int, write: Callable[[], object]) -> object:
    """Run ``write`` (which records its change, then updates the artifact) while another unit of work
    holds the artifact, and let that one record a newer change and commit while ``write`` waits."""
    holding = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def other() -> None:
        try:
            with store.transaction() as tx:
                [held] = tx.get_artifacts_by_id([artifact_id])  # held from here on
                holding.set()
                assert release.wait(30)
                held.custom_properties["other"].int_value = 1
                tx.put_artifacts([held])  # its change is recorded now: newer than the waiting write's
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    assert holding.wait(30)
    outcome: list[object] = []

    def mine() -> None:
        try:
            outcome.append(write())
        except BaseException as exc:  # noqa: BLE001 - returned below
            outcome.append(exc)

    waiting = threading.Thread(target=mine)
    waiting.start()
    deadline = time.monotonic() + 30
    while not _waiting_for_a_lock(store):
        assert time.monotonic() < deadline and not outcome, f"the write never waited for the artifact: {outcome}"
        time.sleep(0.15)  # InnoDB refreshes innodb_trx only when it was last read 0.1 s ago or more
    release.set()
    thread.join(30)
    waiting.join(30)
    assert errors == []
    return outcome[0]


def test_a_composite_write_overtaken_on_a_row_runs_again_with_a_newer_change(store):
    type_id = _model(store)
    trainer = store.put_execution_type(pb.ExecutionType(name="Trainer"))
    [artifact_id] = store.put_artifacts([pb.Artifact(type_id=type_id, uri="/model")])

    def put_execution():
        update = pb.Artifact(id=artifact_id, type_id=type_id, state=pb.Artifact.LIVE)
        update.custom_properties["mine"].int_value = 2
        # The new execution is written first (its change recorded), then the artifact is updated.
        return store.put_execution(pb.Execution(type_id=trainer), [(update, pb.Event(type=pb.Event.OUTPUT))], [])

    answer = _overtaken(store, artifact_id, type_id, put_execution)
    assert not isinstance(answer, BaseException), answer
    execution_id, [same], _ = answer
    assert same == artifact_id
    assert [e.id for e in store.get_executions()] == [execution_id]  # the first try left nothing behind
    live = store.get_artifacts_by_id([artifact_id])[0]
    # put_execution writes the artifact whole (no mask): the other writer's value is replaced, in order.
    assert _counters(live) == {"mine": 2}
    versions = _chain(store, t.artifacts, artifact_id)
    assert len(versions) == 3
    assert [_counters(r.node) for r in store.get_artifact_history(artifact_id)] == [{}, {"other": 1}, {"mine": 2}]


def test_a_unit_of_work_overtaken_on_a_row_is_aborted_and_writes_nothing(store):
    type_id = _model(store)
    trainer = store.put_execution_type(pb.ExecutionType(name="Trainer"))
    [artifact_id] = store.put_artifacts([pb.Artifact(type_id=type_id, uri="/model")])

    def unit_of_work():
        with store.transaction() as tx:
            tx.put_executions([pb.Execution(type_id=trainer)])  # its change is recorded here
            update = pb.Artifact(id=artifact_id, type_id=type_id)
            update.custom_properties["mine"].int_value = 2
            tx.put_artifacts([update])

    answer = _overtaken(store, artifact_id, type_id, unit_of_work)
    assert isinstance(answer, AbortedError)
    assert isinstance(answer, history.OutOfOrderWrite)
    assert "retry the transaction" in str(answer)
    assert store.get_executions() == []
    assert _counters(store.get_artifacts_by_id([artifact_id])[0]) == {"other": 1}
    _chain(store, t.artifacts, artifact_id)


def test_reads_in_a_unit_of_work_hold_what_they_read(store):
    """Read, then write back in one unit of work (MLflow's log-param): no update is lost."""
    type_id = _model(store)
    [artifact_id] = store.put_artifacts([pb.Artifact(type_id=type_id, uri="/rmw")])

    def writer(worker: int) -> None:
        for i in range(UPDATES):
            with store.transaction() as tx:
                [artifact] = tx.get_artifacts_by_id([artifact_id])
                artifact.custom_properties[f"w{worker}_{i}"].int_value = 1
                tx.put_artifacts([artifact])  # the whole node, as read plus one property

    _race(writer)
    live = store.get_artifacts_by_id([artifact_id])[0]
    assert len(live.custom_properties) == WORKERS * UPDATES
    assert len(_chain(store, t.artifacts, artifact_id)) == 1 + WORKERS * UPDATES


def test_a_store_without_history_still_takes_turns(store_url):
    store = Store(store_url, keep_history=False)
    try:
        type_id = _model(store)
        [artifact_id] = store.put_artifacts([pb.Artifact(type_id=type_id, uri="/nohistory")])

        _race(_masked_writer(store, artifact_id, type_id))
        live = store.get_artifacts_by_id([artifact_id])[0]
        assert _counters(live) == {f"w{w}": UPDATES for w in range(WORKERS)}
    finally:
        store.close()


def test_the_lock_is_taken_once_per_row_and_transaction(store):
    """A unit of work that reads and then updates a node locks it once (the update does not lock again)."""
    type_id = _model(store)
    [artifact_id] = store.put_artifacts([pb.Artifact(type_id=type_id, uri="/once")])
    with store.transaction() as tx:
        [artifact] = tx.get_artifacts_by_id([artifact_id])
        artifact.custom_properties["x"].int_value = 1
        tx.put_artifacts([artifact])
        pending = tx.connection.info["mlineage.change"]
        assert pending.locked == {ARTIFACT.table.name: {artifact_id}}
