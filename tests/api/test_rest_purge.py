"""POST /api/v1/purge over a real HTTP socket, on SQLite and PostgreSQL: dry run and real run, retention, bad bodies."""

from __future__ import annotations

import httpx
import pytest
from purge_scenarios import LIVE_PUSHED, artifact_names, write_runs
from rest_server import http_client

from mlineage.proto import metadata_store_pb2 as pb


@pytest.fixture
def api(store) -> httpx.Client:
    with http_client(store) as client:
        yield client


def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def test_a_dry_run_answers_count_and_sample_and_the_real_run_deletes_them(store, api):
    ids = write_runs(store, "run", [pb.Artifact.LIVE, pb.Artifact.DELETED])
    before = artifact_names(store)
    body = {"kind": "artifacts", "filter": "contexts_r.type = 'Run'", "older_than": "0ms",
            "keep_upstream_of": LIVE_PUSHED, "sample_size": 2}

    dry = ok(api.post("/api/v1/purge", json=body))  # dry_run defaults to true
    assert artifact_names(store) == before
    assert (dry["count"], dry["deleted"], dry["dry_run"], dry["kind"]) == (5, 0, True, "artifacts")
    assert dry["sample"][0] == {"id": ids["run0/evaluation"], "type": "ModelEvaluation", "name": "run0-evaluation",
                                "uri": "/store/run0-evaluation"}
    assert len(dry["sample"]) == 2

    real = ok(api.post("/api/v1/purge", json={**body, "dry_run": False, "batch_size": 2}))
    assert (real["count"], real["deleted"], real["dry_run"]) == (5, 5, False)
    assert real["sample"] == dry["sample"]
    assert artifact_names(store) == {"run0-examples", "run0-model", "run0-pushed"}
    assert store.get_artifact_history(ids["run1/model"])[-1].surface == "rest"


def test_history_retention_alone(store, api):
    ids = write_runs(store, "run", [pb.Artifact.LIVE])
    store.delete_artifacts([ids["run0/evaluation"]])
    dry = ok(api.post("/api/v1/purge", json={"history_older_than": 0}))
    assert dry["kind"] is None and dry["count"] == 0 and dry["history_rows"] > 0
    assert dry["history_rows_removed"] == 0
    real = ok(api.post("/api/v1/purge", json={"history_older_than": 0, "dry_run": False}))
    assert real["history_rows_removed"] == real["history_rows"] == dry["history_rows"]
    assert ok(api.post("/api/v1/purge", json={"history_older_than": "0s"}))["history_rows"] == 0


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"kind": "artifacts", "filter": "uri =", "dry_run": False}, "filter: Invalid `filter_query`"),
        ({"kind": "artifacts", "filter": "", "keep_upstream_of": "state = SHINY", "dry_run": False},
         "keep_upstream_of"),
        ({"kind": "artifacts", "filter": "", "older_than": "-5d", "dry_run": False}, "`older_than`"),
        ({"kind": "artifacts", "filter": "", "older_than": "5 weeks", "dry_run": False}, "`older_than`"),
        ({"kind": "artifacts", "filter": "", "older_than": -1, "dry_run": False}, "`older_than`"),
        ({"kind": "artifacts", "filter": "", "older_than": "99999999999999d", "dry_run": False}, "`older_than`"),
        ({"kind": "artifacts", "filter": "", "history_older_than": [1], "dry_run": False}, "history_older_than"),
        ({"kind": "models", "filter": "", "dry_run": False}, "`kind` must be one of"),
        ({"kind": "artifacts", "dry_run": False}, "`filter` is required"),
        ({"kind": "artifacts", "filter": "", "dry_run": "no"}, "`dry_run`"),
        ({"kind": "artifacts", "filter": "", "dry_run": False, "batch_size": 0}, "`batch_size`"),
        ({"kind": "artifacts", "filter": "", "dry_run": False, "unknown": 1}, "unknown field `unknown`"),
        ({"dry_run": False}, "give `kind`"),
        ([1, 2], "JSON object"),
    ],
    ids=["malformed-filter", "malformed-keep", "negative", "unknown-unit", "negative-ms", "too-long",
         "window-type", "unknown-kind", "no-filter", "dry-run-type", "zero-batch", "unknown-field", "nothing",
         "not-an-object"],
)
def test_bad_bodies_are_400_in_rest_words_and_delete_nothing(store, api, body, words):
    write_runs(store, "run", [pb.Artifact.LIVE])
    before = artifact_names(store)
    response = api.post("/api/v1/purge", json=body)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["code"] == "INVALID_ARGUMENT" and words in answer["message"], answer
    assert "Traceback" not in answer["message"]
    assert artifact_names(store) == before


def test_a_body_that_is_not_json_is_400(api):
    response = api.post("/api/v1/purge", content=b"{kind", headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["code"] == "INVALID_ARGUMENT"


def test_the_route_is_documented_in_openapi(api):
    spec = ok(api.get("/openapi.json"))
    operation = spec["paths"]["/api/v1/purge"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PurgeRequest"
    }
    assert {"PurgeRequest", "PurgeResult"} <= set(spec["components"]["schemas"])
