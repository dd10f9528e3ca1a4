"""MLflow's tracking endpoints over HTTP, on SQLite and PostgreSQL: shapes, status codes and rules the client relies on.

The real client's agreement with MLflow's server is in test_tracking_client.py;
these pin the wire details (error bodies and statuses, the ajax-api aliases, GET
query strings, bad bodies) and the rules that need no mlflow environment.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from mlineage.api.rest.app import create_app
from mlineage.proto import metadata_store_pb2 as pb

API = "/api/2.0/mlflow"


@pytest.fixture
def http(store) -> Iterator[TestClient]:
    with TestClient(create_app(store), raise_server_exceptions=False) as client:
        yield client


def _ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def _error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"} and body["error_code"] == code, body
    return body["message"]


def _run(http: TestClient, experiment_id: str = "0", **extra) -> str:
    body = {"experiment_id": experiment_id, "start_time": 1000, **extra}
    return _ok(http.post(f"{API}/runs/create", json=body))["run"]["info"]["run_id"]


def test_default_experiment_is_id_0_and_runs_go_there_without_an_experiment(http):
    experiment = _ok(http.get(f"{API}/experiments/get", params={"experiment_id": "0"}))["experiment"]
    assert experiment["name"] == "Default" and experiment["artifact_location"] == "mlflow-artifacts:/0"
    run = _ok(http.post(f"{API}/runs/create", json={"run_name": "plain"}))["run"]
    assert run["info"]["experiment_id"] == "0"
    assert run["info"]["artifact_uri"] == f"mlflow-artifacts:/0/{run['info']['run_id']}/artifacts"
    assert {"key": "mlflow.runName", "value": "plain"} in run["data"]["tags"]


def test_errors_have_mlflows_shape_and_status(http):
    assert "Run with id=" in _error(http.get(f"{API}/runs/get", params={"run_id": "f" * 32}), 404,
                                    "RESOURCE_DOES_NOT_EXIST")
    _error(http.get(f"{API}/experiments/get", params={"experiment_id": "12345"}), 404, "RESOURCE_DOES_NOT_EXIST")
    _error(http.get(f"{API}/experiments/get", params={"experiment_id": "abc"}), 400, "INVALID_PARAMETER_VALUE")
    _ok(http.post(f"{API}/experiments/create", json={"name": "twice"}))
    _error(http.post(f"{API}/experiments/create", json={"name": "twice"}), 400, "RESOURCE_ALREADY_EXISTS")
    assert "name" in _error(http.post(f"{API}/experiments/create", json={}), 400, "INVALID_PARAMETER_VALUE")
    _error(http.post(f"{API}/runs/create", content=b"{not json", headers={"content-type": "application/json"}),
           400, "MALFORMED_REQUEST")
    _error(http.post(f"{API}/runs/create", json=[1, 2]), 400, "MALFORMED_REQUEST")


def test_ajax_aliases_answer_the_same(http):
    made = _ok(http.post("/ajax-api/2.0/mlflow/experiments/create", json={"name": "via-ajax"}))
    got = _ok(http.get(f"{API}/experiments/get-by-name", params={"experiment_name": "via-ajax"}))
    assert got["experiment"]["experiment_id"] == made["experiment_id"]
    again = _ok(http.get("/ajax-api/2.0/mlflow/experiments/get", params={"experiment_id": made["experiment_id"]}))
    assert again == got


def test_mlflow_routes_are_not_in_mlineages_openapi_document(http):
    paths = _ok(http.get("/openapi.json"))["paths"]
    assert paths and not [p for p in paths if "mlflow" in p]


def test_a_param_once_logged_keeps_its_value(http, store):
    run_id = _run(http)
    _ok(http.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "lr", "value": "0.01"}))
    _ok(http.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "lr", "value": "0.01"}))
    message = _error(http.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "lr", "value": "1"}),
                     400, "INVALID_PARAMETER_VALUE")
    assert "Changing param values is not allowed" in message
    _error(http.post(f"{API}/runs/log-batch", json={"run_id": run_id, "params": [{"key": "lr", "value": "2"}],
                                                    "tags": [{"key": "t", "value": "v"}]}),
           400, "INVALID_PARAMETER_VALUE")
    execution = store.get_execution_by_type_and_name("mlflow.Run", run_id)
    assert execution.custom_properties["param.lr"].string_value == "0.01"
    assert "tag.t" not in execution.custom_properties  # the refused batch changed nothing


@pytest.mark.parametrize(("metrics", "params", "tags"), [(1001, 0, 0), (0, 101, 0), (0, 0, 101), (801, 100, 100)])
def test_log_batch_limits(http, store, metrics, params, tags):
    run_id = _run(http)
    body = {
        "run_id": run_id,
        "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": i} for i in range(metrics)],
        "params": [{"key": f"p{i}", "value": "v"} for i in range(params)],
        "tags": [{"key": f"t{i}", "value": "v"} for i in range(tags)],
    }
    message = _error(http.post(f"{API}/runs/log-batch", json=body), 400, "INVALID_PARAMETER_VALUE")
    assert "A batch logging request can contain at most" in message
    execution = store.get_execution_by_type_and_name("mlflow.Run", run_id)
    assert store.get_metric_series([execution.id]) == []
    assert not [k for k in execution.custom_properties if k.startswith("param.")]


def test_metrics_are_the_stores_metric_series_and_history_pages(http, store):
    run_id = _run(http)
    for step in range(5):
        _ok(http.post(f"{API}/runs/log-metric",
                      json={"run_id": run_id, "key": "loss", "value": 1.0 / (step + 1), "timestamp": 10 + step,
                            "step": step}))
    # the same point again is kept once, as MLflow keeps it
    _ok(http.post(f"{API}/runs/log-metric", json={"run_id": run_id, "key": "loss", "value": 1.0, "timestamp": 10,
                                                  "step": 0}))
    _ok(http.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": [
        {"key": "acc", "value": "NaN", "timestamp": 20, "step": 0}, {"key": "acc", "value": 0.5, "timestamp": 21,
                                                                     "step": 1}]}))
    execution = store.get_execution_by_type_and_name("mlflow.Run", run_id)
    series = {s.name: s for s in store.get_metric_series([execution.id])}
    assert list(series["loss"].seq) == [0, 1, 2, 3, 4] and list(series["loss"].step) == [0, 1, 2, 3, 4]
    assert list(series["acc"].timestamp_ms) == [20, 21]
    pages, token = [], None
    while True:
        params = {"run_id": run_id, "metric_key": "loss", "max_results": 2, **({"page_token": token} if token else {})}
        answer = _ok(http.get(f"{API}/metrics/get-history", params=params))
        pages.append([m["step"] for m in answer["metrics"]])
        token = answer.get("next_page_token")
        if not token:
            break
    assert pages == [[0, 1], [2, 3], [4]]
    run = _ok(http.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]
    latest = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    assert latest == {"loss": 0.2, "acc": 0.5}
    _error(http.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss",
                                                          "page_token": "%%%"}), 400, "INVALID_PARAMETER_VALUE")


def test_bad_metric_values_are_refused(http):
    run_id = _run(http)
    for body in ({"key": "x", "value": "high", "timestamp": 1}, {"key": "x", "value": 1.0},
                 {"key": "x", "value": 1.0, "timestamp": -1}, {"key": "a/../b", "value": 1.0, "timestamp": 1},
                 {"key": "x", "value": True, "timestamp": 1}):
        _error(http.post(f"{API}/runs/log-metric", json={"run_id": run_id, **body}), 400, "INVALID_PARAMETER_VALUE")


def test_deleted_runs_are_hidden_refuse_writes_and_come_back(http, store):
    kept, deleted = _run(http, run_name="kept"), _run(http, run_name="gone")
    _ok(http.post(f"{API}/runs/delete", json={"run_id": deleted}))

    def names(view: str = "ACTIVE_ONLY") -> list[str]:
        body = {"experiment_ids": ["0"], "run_view_type": view}
        return [r["info"]["run_name"] for r in _ok(http.post(f"{API}/runs/search", json=body)).get("runs", [])]

    assert names() == ["kept"] and names("DELETED_ONLY") == ["gone"] and sorted(names("ALL")) == ["gone", "kept"]
    _error(http.post(f"{API}/runs/set-tag", json={"run_id": deleted, "key": "k", "value": "v"}), 400,
           "INVALID_PARAMETER_VALUE")
    # MLMD readers see the stage too: it is a property of the execution
    execution = store.get_execution_by_type_and_name("mlflow.Run", deleted)
    assert execution.properties["lifecycle_stage"].string_value == "deleted"
    _ok(http.post(f"{API}/runs/restore", json={"run_id": deleted}))
    assert sorted(names()) == ["gone", "kept"]
    assert kept


def test_deleting_an_experiment_deletes_its_runs_and_restoring_brings_them_back(http):
    experiment_id = _ok(http.post(f"{API}/experiments/create", json={"name": "short-lived"}))["experiment_id"]
    run_id = _run(http, experiment_id)
    _ok(http.post(f"{API}/experiments/delete", json={"experiment_id": experiment_id}))
    run = _ok(http.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]
    assert run["info"]["lifecycle_stage"] == "deleted"
    _error(http.post(f"{API}/runs/create", json={"experiment_id": experiment_id}), 400, "INVALID_PARAMETER_VALUE")
    _ok(http.post(f"{API}/experiments/restore", json={"experiment_id": experiment_id}))
    run = _ok(http.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]
    assert run["info"]["lifecycle_stage"] == "active"


def test_search_runs_filters_orders_and_pages(http):
    experiment_id = _ok(http.post(f"{API}/experiments/create", json={"name": "grid"}))["experiment_id"]
    for index, (lr, loss) in enumerate([("0.01", 0.2), ("0.1", 0.1), ("0.01", 0.5), ("0.01", 0.25)]):
        run_id = _run(http, experiment_id, run_name=f"r{index}", start_time=1000 + index)
        _ok(http.post(f"{API}/runs/log-batch", json={
            "run_id": run_id, "params": [{"key": "lr", "value": lr}],
            "metrics": [{"key": "loss", "value": loss, "timestamp": 1, "step": 0}]}))

    def search(**body) -> dict:
        return _ok(http.post(f"{API}/runs/search", json={"experiment_ids": [experiment_id], **body}))

    def names(answer: dict) -> list[str]:
        return [r["info"]["run_name"] for r in answer.get("runs", [])]

    assert names(search(filter="metrics.loss < 0.3 and params.lr = '0.01'")) == ["r3", "r0"]
    assert names(search(order_by=["metrics.loss ASC"])) == ["r1", "r0", "r3", "r2"]
    first = search(max_results=3, order_by=["attributes.run_name"])
    assert names(first) == ["r0", "r1", "r2"] and first["next_page_token"]
    rest = search(max_results=3, order_by=["attributes.run_name"], page_token=first["next_page_token"])
    assert names(rest) == ["r3"] and "next_page_token" not in rest
    for bad in ("metrics.loss < '0.3'", "params.lr = 0.01", "metrics.loss < 0.3 or params.lr = '1'",
                "nope.x = '1'", "attributes.lifecycle_stage = 'active'", "metrics.loss"):
        _error(http.post(f"{API}/runs/search", json={"experiment_ids": [experiment_id], "filter": bad}), 400,
               "INVALID_PARAMETER_VALUE")
    for bad_max in (0, 50001):
        _error(http.post(f"{API}/runs/search", json={"experiment_ids": [experiment_id], "max_results": bad_max}),
               400, "INVALID_PARAMETER_VALUE")


def test_search_experiments_filter_and_order(http):
    for name in ("b-exp", "a-exp", "c-other"):
        _ok(http.post(f"{API}/experiments/create", json={"name": name, "tags": [{"key": "kind", "value": name[0]}]}))
    answer = _ok(http.post(f"{API}/experiments/search", json={"filter": "name LIKE '%-exp'",
                                                              "order_by": ["name ASC"]}))
    assert [e["name"] for e in answer["experiments"]] == ["a-exp", "b-exp"]
    answer = _ok(http.get(f"{API}/experiments/search", params={"filter": "tags.kind = 'c'"}))
    assert [e["name"] for e in answer["experiments"]] == ["c-other"]
    _error(http.post(f"{API}/experiments/search", json={"filter": "params.x = '1'"}), 400, "INVALID_PARAMETER_VALUE")


def test_update_run_sets_status_end_time_and_the_mlmd_state(http, store):
    run_id = _run(http)
    info = _ok(http.post(f"{API}/runs/update", json={"run_id": run_id, "status": "KILLED", "end_time": 5000}))
    assert info["run_info"]["status"] == "KILLED" and info["run_info"]["end_time"] == 5000
    assert store.get_execution_by_type_and_name("mlflow.Run", run_id).last_known_state == pb.Execution.CANCELED
    _error(http.post(f"{API}/runs/update", json={"run_id": run_id, "status": "DONE"}), 400,
           "INVALID_PARAMETER_VALUE")


def test_an_unknown_mlflow_endpoint_is_endpoint_not_found(http):
    _error(http.get(f"{API}/no-such-call"), 404, "ENDPOINT_NOT_FOUND")
    _error(http.post("/ajax-api/2.0/mlflow/runs/no-such-call", json={}), 404, "ENDPOINT_NOT_FOUND")
    assert http.get("/api/v1/no-such-thing").json()["code"] == "NOT_FOUND"  # mlineage's own API keeps its shape


def test_runs_outputs_are_the_runs_model_outputs_with_their_steps(http):
    run_id = _run(http)
    model_ids = [
        _ok(http.post(f"{API}/logged-models", json={"experiment_id": "0", "name": name}))["model"]["info"]["model_id"]
        for name in ("a", "b")
    ]
    # Created from the run (source_run_id) is not yet an output: runs/outputs makes it one.
    _ok(http.post(f"{API}/logged-models", json={"experiment_id": "0", "name": "c", "source_run_id": run_id}))
    assert "outputs" not in _ok(http.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]
    _ok(http.post(f"{API}/runs/outputs", json={"run_id": run_id, "models": [
        {"model_id": model_ids[1], "step": 3}, {"model_id": model_ids[0], "step": 0}]}))
    _ok(http.post(f"{API}/runs/outputs", json={"run_id": run_id, "models": [{"model_id": model_ids[1], "step": 7}]}))
    run = _ok(http.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]
    assert run["outputs"] == {"model_outputs": [
        {"model_id": model_ids[0], "step": 0}, {"model_id": model_ids[1], "step": 3},
        {"model_id": model_ids[1], "step": 7}]}
    searched = _ok(http.post(f"{API}/runs/search", json={"experiment_ids": ["0"]}))["runs"]
    assert [r["outputs"] for r in searched if r["info"]["run_id"] == run_id] == [run["outputs"]]

    _error(http.post(f"{API}/runs/outputs", json={"run_id": run_id, "models": [
        {"model_id": model_ids[0], "step": "soon"}]}), 400, "INVALID_PARAMETER_VALUE")
    _error(http.post(f"{API}/runs/outputs", json={"run_id": run_id, "models": [
        {"model_id": "m-0123456789abcdef0123456789abcdef"}]}), 404, "RESOURCE_DOES_NOT_EXIST")
    _ok(http.post(f"{API}/runs/delete", json={"run_id": run_id}))
    _error(http.post(f"{API}/runs/outputs", json={"run_id": run_id, "models": [{"model_id": model_ids[0], "step": 1}]}),
           400, "INVALID_PARAMETER_VALUE")
    assert _ok(http.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]["outputs"] == run["outputs"]
