"""/metrics: the database pool gauges, the gRPC in-flight and worker-queue gauges and HTTP in-flight move with the load.

A real `mlineage serve` on a SQLite file whose write lock the test holds from another connection: writes
sent over gRPC then sit in the two worker threads (in flight, one holding a pooled connection) or wait
for one (queued), and everything goes back to zero once the lock is let go. The pool's waits and
timeouts are counted on a store whose pool the test exhausts, in process.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable

import grpc
import httpx
import pytest
from grpc_server import mlineage_server
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from mlineage.api import metrics
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metadata_store_service_pb2 as svc

WORKERS = 2
CALLS = 5


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _scrape(http: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"{http}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return _samples(response.text)


def _until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.05)


PRIMARY = (("engine", "primary"),)


def test_blocked_writes_show_in_flight_queued_and_a_checked_out_connection(tmp_path):
    path = tmp_path / "served.db"
    with mlineage_server(f"sqlite:///{path}", http=True, extra_args=["--workers", str(WORKERS)]) as server:
        http = f"http://{server.host}:{server.http_port}"
        idle = _scrape(http)
        assert idle[("mlineage_db_pool_size", PRIMARY)] == 8  # the SQLite file's pool (metadata/engine.py)
        assert idle[("mlineage_db_pool_checked_out", PRIMARY)] == 0
        assert idle[("mlineage_grpc_in_flight_requests", ())] == 0
        assert idle[("mlineage_grpc_worker_queue_depth", ())] == 0
        assert idle[("mlineage_http_in_flight_requests", ())] == 1  # this scrape itself

        holder = sqlite3.connect(path, isolation_level=None, timeout=30)
        holder.execute("BEGIN IMMEDIATE")  # the database's write lock: the server's writes wait for it
        channel = grpc.insecure_channel(server.target)
        put = channel.unary_unary(
            "/ml_metadata.MetadataStoreService/PutArtifactType",
            request_serializer=lambda message: message.SerializeToString(),
            response_deserializer=svc.PutArtifactTypeResponse.FromString,
        )
        try:
            calls = [put.future(svc.PutArtifactTypeRequest(artifact_type=pb.ArtifactType(name=f"Blocked{n}")),
                                timeout=60) for n in range(CALLS)]
            _until(lambda: _scrape(http)[("mlineage_grpc_worker_queue_depth", ())] == CALLS - WORKERS)
            busy = _scrape(http)
            assert busy[("mlineage_grpc_in_flight_requests", ())] == WORKERS
            assert busy[("mlineage_db_pool_checked_out", PRIMARY)] >= 1  # the write waiting on the lock holds one
            holder.execute("ROLLBACK")
            ids = [call.result(timeout=60).type_id for call in calls]
            assert len(set(ids)) == CALLS
            _until(lambda: _scrape(http)[("mlineage_grpc_in_flight_requests", ())] == 0)
            after = _scrape(http)
            assert after[("mlineage_grpc_worker_queue_depth", ())] == 0
            assert after[("mlineage_db_pool_checked_out", PRIMARY)] == 0
            assert after[("mlineage_db_pool_idle", PRIMARY)] >= 1
        finally:
            channel.close()
            holder.close()


def test_an_http_request_in_progress_is_counted_in_flight(tmp_path):
    path = tmp_path / "served.db"
    with mlineage_server(f"sqlite:///{path}", http=True) as server:
        http = f"http://{server.host}:{server.http_port}"
        holder = sqlite3.connect(path, isolation_level=None, timeout=30)
        holder.execute("BEGIN IMMEDIATE")
        answers: list[int] = []
        writer = threading.Thread(target=lambda: answers.append(httpx.post(
            f"{http}/api/v1/types:batchPut", json={"artifact_types": [{"name": "Waiting"}]}, timeout=60).status_code))
        writer.start()
        try:
            _until(lambda: _scrape(http)[("mlineage_http_in_flight_requests", ())] == 2)  # the write and the scrape
        finally:
            holder.execute("ROLLBACK")
            holder.close()
            writer.join(timeout=60)
        assert answers and answers[0] < 300, answers
        assert _scrape(http)[("mlineage_http_in_flight_requests", ())] == 1


def test_an_exhausted_pool_counts_its_waits_and_timeouts(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'pool.db'}", pool_size=1, max_overflow=0, pool_timeout=0.3)
    store = Store(engine)
    try:
        metrics.watch_store(store)
        before = _samples(metrics.exposition()[0].decode())
        waits, timeouts = (before.get((f"mlineage_db_pool_{name}_total", PRIMARY), 0.0) for name in ("waits", "timeouts"))
        held = engine.connect()
        assert _samples(metrics.exposition()[0].decode())[("mlineage_db_pool_checked_out", PRIMARY)] == 1
        with pytest.raises(PoolTimeoutError):
            engine.connect()
        got: list[object] = []
        waiter = threading.Thread(target=lambda: got.append(engine.connect()))
        waiter.start()
        time.sleep(0.1)
        held.close()  # the waiting checkout gets this connection
        waiter.join(timeout=10)
        assert got, "the waiting checkout did not get the released connection"
        got[0].close()  # type: ignore[attr-defined]
        after = _samples(metrics.exposition()[0].decode())
        assert after[("mlineage_db_pool_waits_total", PRIMARY)] == waits + 2
        assert after[("mlineage_db_pool_timeouts_total", PRIMARY)] == timeouts + 1
        assert after[("mlineage_db_pool_wait_seconds_count", PRIMARY)] >= 2
        assert after[("mlineage_db_pool_checked_out", PRIMARY)] == 0
    finally:
        metrics.watch_store(None)
        store.close()
