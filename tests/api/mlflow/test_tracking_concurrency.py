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


def test_concurrent_servers_lose_no_param_or_tag(store_url):
    """log-param and set-tag read the run and write it back whole: two servers writing one run at once
    must each see what the other committed (the unit of work holds the run it read)."""
    stores = [mlineage.connect(store_url), mlineage.connect(store_url)]
    try:
        clients = [TestClient(create_app(s)) for s in stores]
        run_id = clients[0].post(f"{API}/runs/create", json={"start_time": 1}).json()["run"]["info"]["run_id"]
        failures: list[str] = []

        def log(server: int) -> None:
            for i in range(POINTS_PER_SERVER):
                for path, body in (
                    ("log-parameter", {"run_id": run_id, "key": f"p{server}_{i}", "value": str(i)}),
                    ("set-tag", {"run_id": run_id, "key": f"t{server}_{i}", "value": str(i)}),
                ):
                    answer = clients[server].post(f"{API}/runs/{path}", json=body)
                    if answer.status_code != 200:
                        failures.append(answer.text)

        threads = [threading.Thread(target=log, args=(server,)) for server in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == []
        data = clients[1].get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]["data"]
        wanted = {f"{s}_{i}": str(i) for s in (0, 1) for i in range(POINTS_PER_SERVER)}
        assert {p["key"][1:]: p["value"] for p in data["params"]} == wanted
        tags = {t["key"][1:]: t["value"] for t in data["tags"] if t["key"].startswith("t")}
        assert tags == wanted
    finally:
        for opened in stores:
            opened.close()


def test_concurrent_servers_lose_no_experiment_tag(store_url):
    stores = [mlineage.connect(store_url), mlineage.connect(store_url)]
    try:
        clients = [TestClient(create_app(s)) for s in stores]
        answer = clients[0].post(f"{API}/experiments/create", json={"name": "shared-tags"})
        experiment_id = answer.json()["experiment_id"]
        failures: list[str] = []

        def tag(server: int) -> None:
            for i in range(POINTS_PER_SERVER):
                body = {"experiment_id": experiment_id, "key": f"k{server}_{i}", "value": str(i)}
                answer = clients[server].post(f"{API}/experiments/set-experiment-tag", json=body)
                if answer.status_code != 200:
                    failures.append(answer.text)

        threads = [threading.Thread(target=tag, args=(server,)) for server in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == []
        got = clients[1].get(f"{API}/experiments/get", params={"experiment_id": experiment_id}).json()
        tags = {t["key"]: t["value"] for t in got["experiment"].get("tags", [])}
        assert tags == {f"k{s}_{i}": str(i) for s in (0, 1) for i in range(POINTS_PER_SERVER)}
    finally:
        for opened in stores:
            opened.close()


def test_concurrent_servers_lose_no_logged_model_tag(store_url):
    stores = [mlineage.connect(store_url), mlineage.connect(store_url)]
    try:
        clients = [TestClient(create_app(s)) for s in stores]
        answer = clients[0].post(f"{API}/logged-models", json={"experiment_id": "0", "name": "m"})
        assert answer.status_code == 200, answer.text
        model_id = answer.json()["model"]["info"]["model_id"]
        failures: list[str] = []

        def tag(server: int) -> None:
            for i in range(POINTS_PER_SERVER):
                body = {"tags": [{"key": f"k{server}_{i}", "value": str(i)}]}
                answer = clients[server].patch(f"{API}/logged-models/{model_id}/tags", json=body)
                if answer.status_code != 200:
                    failures.append(answer.text)

        threads = [threading.Thread(target=tag, args=(server,)) for server in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == []
        got = clients[1].get(f"{API}/logged-models/{model_id}").json()["model"]["info"]
        tags = {t["key"]: t["value"] for t in got.get("tags", []) if t["key"].startswith("k")}
        assert tags == {f"k{s}_{i}": str(i) for s in (0, 1) for i in range(POINTS_PER_SERVER)}
    finally:
        for opened in stores:
            opened.close()
