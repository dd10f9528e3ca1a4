"""GET /api/v1/executions/{id}/metrics[/{name}]: the metric series an execution logged, summarized and paged."""

from __future__ import annotations

import math

import httpx
import pytest
from rest_server import http_client

from mlineage.metadata.metrics import put_metric_series
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metric_series_pb2 as mpb


@pytest.fixture
def logged(store) -> dict[str, int]:
    type_id = store.put_execution_type(pb.ExecutionType(name="Trainer"))
    [trainer, quiet] = store.put_executions([pb.Execution(type_id=type_id), pb.Execution(type_id=type_id)])
    loss = mpb.MetricSeries(execution_id=trainer, name="loss", seq=range(1, 2501), step=range(10, 25010, 10),
                            value=[1.0 / n for n in range(1, 2501)], timestamp_ms=range(1000, 3500))
    accuracy = mpb.MetricSeries(execution_id=trainer, name="eval/accuracy", seq=[1, 2, 3], value=[0.5, math.nan, 0.9])
    put_metric_series(store, [loss, accuracy])
    return {"trainer": trainer, "quiet": quiet}


@pytest.fixture
def api(store) -> httpx.Client:
    with http_client(store) as client:
        yield client


def test_list_metrics_gives_each_series_with_its_last_point(api, logged):
    response = api.get(f"/api/v1/executions/{logged['trainer']}/metrics")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["execution_id"] == str(logged["trainer"])
    by_name = {m["name"]: m for m in body["metrics"]}
    assert list(by_name) == ["eval/accuracy", "loss"]
    assert by_name["loss"] == {
        "name": "loss", "points": 2500, "last_step": 25000, "last_value": 1.0 / 2500,
        "last_timestamp_ms": 3499, "min_value": 1.0 / 2500, "max_value": 1.0,
    }  # fmt: skip
    assert by_name["eval/accuracy"]["last_value"] == 0.9 and by_name["eval/accuracy"]["last_step"] == 3


def test_an_execution_without_metrics_has_an_empty_list(api, logged):
    assert api.get(f"/api/v1/executions/{logged['quiet']}/metrics").json()["metrics"] == []


def test_points_come_back_in_pages_in_logging_order(api, logged):
    base = f"/api/v1/executions/{logged['trainer']}/metrics/loss"
    first = api.get(base).json()
    assert [p["seq"] for p in first["points"][:3]] == [1, 2, 3] and len(first["points"]) == 1000
    assert first["points"][0] == {"seq": 1, "step": 10, "value": 1.0, "timestamp_ms": 1000}
    seen = first["points"]
    token = first["next_page_token"]
    while token:
        page = api.get(base, params={"page_size": 700, "page_token": token}).json()
        seen += page["points"]
        token = page["next_page_token"]
    assert [p["seq"] for p in seen] == list(range(1, 2501))


def test_a_name_with_a_slash_and_a_nan_point(api, logged):
    body = api.get(f"/api/v1/executions/{logged['trainer']}/metrics/eval/accuracy").json()
    assert [p["value"] for p in body["points"]] == [0.5, "NaN", 0.9] and body["next_page_token"] == ""


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/api/v1/executions/999999/metrics", {}, 404, "NOT_FOUND"),
        ("/api/v1/executions/999999/metrics/loss", {}, 404, "NOT_FOUND"),
        ("/api/v1/executions/{trainer}/metrics/nope", {}, 404, "NOT_FOUND"),
        ("/api/v1/executions/{trainer}/metrics/loss", {"page_size": 0}, 400, "INVALID_ARGUMENT"),
        ("/api/v1/executions/{trainer}/metrics/loss", {"page_token": "x1"}, 400, "INVALID_ARGUMENT"),
        ("/api/v1/executions/abc/metrics", {}, 400, "INVALID_ARGUMENT"),
    ],
)
def test_bad_requests_are_clean_errors(api, logged, path, params, status, code):
    response = api.get(path.format(**logged), params=params)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


def test_the_endpoints_are_in_the_openapi_document(api):
    document = api.get("/openapi.json").json()
    summary = document["paths"]["/api/v1/executions/{execution_id}/metrics"]["get"]
    points = document["paths"]["/api/v1/executions/{execution_id}/metrics/{name}"]["get"]
    assert summary["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/MetricSummaryList"
    }
    assert {p["name"] for p in points["parameters"]} == {"execution_id", "name", "page_size", "page_token"}
    assert {"MetricSummaryList", "MetricSummary", "MetricPoints", "MetricPoint"} <= set(
        document["components"]["schemas"]
    )
