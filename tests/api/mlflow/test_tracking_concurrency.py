"""Two servers on one database (PostgreSQL or MariaDB replicas, or two processes on one SQLite file) write one
run, experiment or logged model at once.

Each metric point gets the next ``seq`` of its series; when another server took
that seq first, the write is rolled back and made again, so no point is lost
and none is stored twice. Params, tags and logged models are read, changed and
written back in one unit of work that holds what it read: each server's change
lands on the other's, none is overwritten.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

import mlineage
from mlineage.api.rest.app import create_app

API = "/api/2.0/mlflow"
POINTS_PER_SERVER = 25


@contextmanager
def two_servers(store_url: str) -> Iterator[tuple[list[TestClient], list]]:
    """Two API servers, each on a store of its own over one database: (clients, stores)."""
    stores = [mlineage.connect(store_url), mlineage.connect(store_url)]
    try:
        yield [TestClient(create_app(s)) for s in stores], stores
    finally:
        for opened in stores:
            opened.close()


def at_once(clients: list[TestClient], request: Callable[[TestClient, int, int], object]) -> None:
    """Both servers send POINTS_PER_SERVER requests, ``request(client, server, i)``, side by side;
    every answer must be 200."""
    failures: list[str] = []

    def send(server: int) -> None:
        for i in range(POINTS_PER_SERVER):
            answer = request(clients[server], server, i)
            if answer.status_code != 200:
                failures.append(answer.text)

    threads = [threading.Thread(target=send, args=(server,)) for server in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []


def _run(client: TestClient) -> str:
    return client.post(f"{API}/runs/create", json={"start_time": 1}).json()["run"]["info"]["run_id"]


def _each_server_each_i() -> dict[str, str]:
    return {f"{s}_{i}": str(i) for s in (0, 1) for i in range(POINTS_PER_SERVER)}


def test_concurrent_servers_lose_no_metric_point(store_url):
    with two_servers(store_url) as (clients, stores):
        run_id = _run(clients[0])

        def log(client: TestClient, server: int, i: int):
            step = server * 1000 + i
            body = {"run_id": run_id, "key": "loss", "value": float(step), "timestamp": 5, "step": step}
            return client.post(f"{API}/runs/log-metric", json=body)

        at_once(clients, log)
        execution = stores[0].get_execution_by_type_and_name("mlflow.Run", run_id)
        [series] = stores[0].get_metric_series([execution.id], ["loss"])
        assert list(series.seq) == list(range(2 * POINTS_PER_SERVER))
        assert sorted(series.step) == sorted(s * 1000 + i for s in (0, 1) for i in range(POINTS_PER_SERVER))


def test_concurrent_servers_lose_no_param_or_tag(store_url):
    """log-param and set-tag read the run and write it back whole."""
    with two_servers(store_url) as (clients, _):
        run_id = _run(clients[0])

        def log(client: TestClient, server: int, i: int):
            body = {"run_id": run_id, "key": f"p{server}_{i}", "value": str(i)}
            answer = client.post(f"{API}/runs/log-parameter", json=body)
            if answer.status_code != 200:
                return answer
            return client.post(f"{API}/runs/set-tag", json={**body, "key": f"t{server}_{i}"})

        at_once(clients, log)
        data = clients[1].get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]["data"]
        assert {p["key"][1:]: p["value"] for p in data["params"]} == _each_server_each_i()
        tags = {t["key"][1:]: t["value"] for t in data["tags"] if t["key"].startswith("t")}
        assert tags == _each_server_each_i()


def test_concurrent_servers_lose_no_experiment_tag(store_url):
    with two_servers(store_url) as (clients, _):
        experiment_id = clients[0].post(f"{API}/experiments/create", json={"name": "shared-tags"}).json()[
            "experiment_id"
        ]

        def tag(client: TestClient, server: int, i: int):
            body = {"experiment_id": experiment_id, "key": f"k{server}_{i}", "value": str(i)}
            return client.post(f"{API}/experiments/set-experiment-tag", json=body)

        at_once(clients, tag)
        got = clients[1].get(f"{API}/experiments/get", params={"experiment_id": experiment_id}).json()
        tags = {t["key"][1:]: t["value"] for t in got["experiment"].get("tags", [])}
        assert tags == _each_server_each_i()


def test_concurrent_servers_lose_no_logged_model_tag(store_url):
    with two_servers(store_url) as (clients, _):
        answer = clients[0].post(f"{API}/logged-models", json={"experiment_id": "0", "name": "m"})
        assert answer.status_code == 200, answer.text
        model_id = answer.json()["model"]["info"]["model_id"]

        def tag(client: TestClient, server: int, i: int):
            body = {"tags": [{"key": f"k{server}_{i}", "value": str(i)}]}
            return client.patch(f"{API}/logged-models/{model_id}/tags", json=body)

        at_once(clients, tag)
        got = clients[1].get(f"{API}/logged-models/{model_id}").json()["model"]["info"]
        tags = {t["key"][1:]: t["value"] for t in got.get("tags", []) if t["key"].startswith("k")}
        assert tags == _each_server_each_i()
