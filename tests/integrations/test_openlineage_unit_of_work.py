"""OpenLineage ingestion writes through the store's unit of work: its write lock (SQLite) and its error mapping."""

from __future__ import annotations

import threading
import uuid

from mlineage.integrations import openlineage
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb

PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.0.0/client/python"


def run_event(run_id: str) -> dict:
    return {
        "eventTime": "2024-05-01T12:00:00Z",
        "eventType": "START",
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id},
        "job": {"namespace": "ml", "name": "train"},
        "inputs": [{"namespace": "s3://data", "name": "train.parquet"}],
        "outputs": [],
    }


def test_ingestion_waits_for_the_store_write_lock_and_stores_nothing_meanwhile(tmp_path):
    with Store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        openlineage.ensure_types(store)  # the types exist: ingestion's first write is the raw event
        finished = threading.Event()
        failures: list[BaseException] = []

        def ingest() -> None:
            try:
                openlineage.record_event(store, run_event(str(uuid.uuid4())))
            except BaseException as exc:  # pragma: no cover - reported below
                failures.append(exc)
            finished.set()

        # Another writer of this process holds the store's unit of work (having written nothing
        # yet, so only the store's lock, not SQLite's, stands in the way).
        with store.transaction():
            thread = threading.Thread(target=ingest)
            thread.start()
            assert not finished.wait(0.5)
            # Nothing of the event was committed past the lock (the raw event neither).
            assert openlineage.raw_events(store)[0] == []
        thread.join(30)
        assert finished.is_set() and failures == []
        assert len(openlineage.raw_events(store)[0]) == 1


def test_concurrent_ingestion_and_node_writes_never_see_a_locked_database(tmp_path):
    with Store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        type_id = store.put_artifact_type(pb.ArtifactType(name="Data"))
        failures: list[BaseException] = []

        def ingest() -> None:
            try:
                for _ in range(15):
                    openlineage.record_event(store, run_event(str(uuid.uuid4())))
            except BaseException as exc:
                failures.append(exc)

        def write(worker: int) -> None:
            try:
                for i in range(15):
                    store.put_artifacts([pb.Artifact(type_id=type_id, uri=f"/{worker}/{i}")])
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=ingest) for _ in range(3)]
        threads += [threading.Thread(target=write, args=(n,)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert failures == []
        assert len(openlineage.raw_events(store, page_size=1000)[0]) == 45
        assert len(store.get_artifacts()) == 45 + 1  # 3 × 15 written, plus the runs' one input dataset
