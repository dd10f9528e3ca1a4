"""Two servers on one database (PostgreSQL replicas, or two processes on one SQLite file) log to one run at once.

Each metric point gets the next ``seq`` of its series; when another server took
that seq first, the write is rolled back and made again, so no point is lost
and none is stored twice.
"""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

import mlineage
from mlineage.api.rest.app import create_app

API = "/api/2.0/mlflow"
POINTS_PER_SERVER = 25


def test_concurrent_servers_lose_no_metric_point(store_url):
    stores = [mlineage.connect(store_url), mlineage.connect(store_url)]
    try:
        clients = [TestClient(create_app(s)) for s in stores]
        run_id = clients[0].post(f"{API}/runs/create", json={"start_time": 1}).json()["run"]["info"]["run_id"]
        failures: list[str] = []

        def log(server: int) -> None:
            for i in range(POINTS_PER_SERVER):
                step = server * 1000 + i
                body = {"run_id": run_id, "key": "loss", "value": float(step), "timestamp": 5, "step": step}
                answer = clients[server].post(f"{API}/runs/log-metric", json=body)
                if answer.status_code != 200:
                    failures.append(answer.text)

        threads = [threading.Thread(target=log, args=(server,)) for server in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == []
        execution = stores[0].get_execution_by_type_and_name("mlflow.Run", run_id)
        [series] = stores[0].get_metric_series([execution.id], ["loss"])
        assert list(series.seq) == list(range(2 * POINTS_PER_SERVER))
        assert sorted(series.step) == sorted(s * 1000 + i for s in (0, 1) for i in range(POINTS_PER_SERVER))
    finally:
        for opened in stores:
            opened.close()
