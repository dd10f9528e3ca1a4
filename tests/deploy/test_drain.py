"""SIGTERM drains both APIs within one grace period, as a pod's terminationGracePeriodSeconds requires.

The kubelet sends SIGTERM, waits terminationGracePeriodSeconds (after preStop)
and then kills. `mlineage serve --grace G` must therefore be done in about G
seconds however its calls are stuck, not G for gRPC and then G again for HTTP.
Here a write on each API is held on the SQLite write lock by another
connection (as a long transaction would hold it) past the grace period; the
server must exit 0 within G plus a little, with both ports closed. A call that
does finish inside the grace period is answered, not cut off.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import threading
import time

import grpc
import httpx
from grpc_server import start_server

from mlineage.proto import metadata_store_service_pb2 as svc
from mlineage.proto import metadata_store_service_pb2_grpc as svc_grpc

GRACE_S = 2.0
SLACK_S = 1.5  # process exit, the store's close, interpreter shutdown


def _held_writes(server, results: dict) -> list[threading.Thread]:
    """A gRPC write and an HTTP write, each in a thread, that will wait on the write lock."""
    def grpc_write() -> None:
        with grpc.insecure_channel(server.target) as channel:
            try:
                stub = svc_grpc.MetadataStoreServiceStub(channel)
                stub.PutArtifactType(svc.PutArtifactTypeRequest(artifact_type={"name": "drain.G"}), timeout=60)
                results["grpc"] = "OK"
            except grpc.RpcError as exc:
                results["grpc"] = exc.code().name

    def http_write() -> None:
        try:
            response = httpx.post(f"http://127.0.0.1:{server.http_port}/api/v1/artifact_types",
                                  json={"name": "drain.H"}, timeout=60)
            results["http"] = response.status_code
        except httpx.HTTPError as exc:
            results["http"] = type(exc).__name__

    threads = [threading.Thread(target=grpc_write), threading.Thread(target=http_write)]
    for thread in threads:
        thread.start()
    return threads


def _closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def test_sigterm_stops_within_one_grace_period_when_calls_on_both_apis_are_stuck(tmp_path):
    path = tmp_path / "m.db"
    server = start_server(f"sqlite:///{path}", http=True, extra_args=["--grace", str(GRACE_S)])
    blocker = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # the write lock, held past the grace period
        results: dict = {}
        threads = _held_writes(server, results)
        time.sleep(0.5)  # both writes are in the store, waiting for the lock
        assert not results
        sent = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=30)
        took = time.monotonic() - sent
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    for thread in threads:
        thread.join(timeout=30)
    assert code == 0, server.output()
    assert took < GRACE_S + SLACK_S, f"stopped after {took:.1f}s with --grace {GRACE_S}"
    assert _closed(server.grpc_port) and _closed(server.http_port)
    assert set(results) == {"grpc", "http"}  # each caller got an answer or a closed connection, none hangs


def test_a_call_that_finishes_inside_the_grace_period_is_answered(tmp_path):
    path = tmp_path / "m.db"
    server = start_server(f"sqlite:///{path}", http=True, extra_args=["--grace", "10"])
    blocker = sqlite3.connect(path, timeout=30, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    results: dict = {}
    threads = _held_writes(server, results)
    time.sleep(0.5)
    server.process.send_signal(signal.SIGTERM)
    time.sleep(1.0)  # draining: the lock is released well inside the grace period
    blocker.execute("ROLLBACK")
    blocker.close()
    for thread in threads:
        thread.join(timeout=30)
    assert server.process.wait(timeout=30) == 0, server.output()
    assert results == {"grpc": "OK", "http": 200} or results == {"grpc": "OK", "http": 201}, results
    assert "mlineage: stopped" in server.output()
