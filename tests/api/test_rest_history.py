"""History over a real HTTP socket, on SQLite and PostgreSQL: /history, DELETE, who made each write, ?as_of=.

Each as-of test takes snapshots of what the REST API answered at several
moments, then asks the same GETs ``?as_of=`` those moments and compares.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from urllib.parse import quote

import httpx
import pytest
from rest_server import http_client

from mlineage.api.rest.history import rfc3339


@pytest.fixture
def api(store) -> httpx.Client:
    with http_client(store) as client:
        yield client


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message"} and body["code"] == code, body
    assert "Traceback" not in body["message"]
    return body["message"]


def _moment() -> int:
    """Now, in ms, with the next write at least one millisecond later."""
    time.sleep(0.003)
    moment = time.time_ns() // 1_000_000
    time.sleep(0.003)
    return moment


@pytest.fixture
def pipeline(api) -> dict[str, int]:
    """data -> trainer -> model in run-1, written through REST; the ids."""
    model_type = ok(api.post("/api/v1/artifact_types", json={"name": "Model", "properties": {"acc": "DOUBLE"}}))
    ok(api.post("/api/v1/artifact_types", json={"name": "Examples"}))
    ok(api.post("/api/v1/execution_types", json={"name": "Trainer"}))
    ok(api.post("/api/v1/context_types", json={"name": "Run"}))
    data = ok(api.post("/api/v1/artifacts", json={"type": "Examples", "uri": "/data/1", "state": "LIVE"}), 201)
    model = ok(api.post("/api/v1/artifacts", json={"type": "Model", "uri": "/model/1", "state": "LIVE"}), 201)
    run = ok(api.post("/api/v1/contexts", json={"type": "Run", "name": "run-1"}), 201)
    put = ok(api.post("/api/v1/executions:put", json={
        "execution": {"type": "Trainer", "last_known_state": "COMPLETE"},
        "artifact_event_pairs": [
            {"artifact": data, "event": {"type": "INPUT"}},
            {"artifact": model, "event": {"type": "OUTPUT"}},
        ],
        "contexts": [run],
    }))
    return {"data": int(data["id"]), "model": int(model["id"]), "run": int(run["id"]),
            "trainer": int(put["execution_id"]), "model_type": int(model_type["id"])}


def test_history_lists_every_revision_oldest_first_with_who_and_what(api, pipeline):
    model = pipeline["model"]
    ok(api.patch(f"/api/v1/artifacts/{model}", json={"custom_properties": {"note": {"string_value": "v1"}}}))
    ok(api.patch(f"/api/v1/artifacts/{model}", json={"uri": "/model/2"}))
    revisions = ok(api.get(f"/api/v1/artifacts/{model}/history"))["revisions"]
    assert [r["revision"] for r in revisions] == [1, 2, 3]
    assert [r["operation"] for r in revisions] == ["create", "update", "update"]
    assert revisions[1]["changed"] == ["custom_properties.note"]
    assert revisions[2]["changed"] == ["uri"]
    assert "uri" in revisions[0]["changed"]
    assert [r["node"]["uri"] for r in revisions] == ["/model/1", "/model/1", "/model/2"]
    assert revisions[1]["node"]["custom_properties"]["note"] == {"string_value": "v1"}
    for revision in revisions:
        assert set(revision) == {"revision", "operation", "time", "time_ms", "surface", "actor", "peer", "changed",
                                 "node"}
        assert revision["surface"] == "rest"
        assert revision["actor"] is None
        assert re.fullmatch(r"127\.0\.0\.1:\d+", revision["peer"]), revision["peer"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", revision["time"])
        parsed = datetime.fromisoformat(revision["time"].replace("Z", "+00:00"))
        assert int(parsed.timestamp() * 1000) == revision["time_ms"]
    assert revisions[0]["time_ms"] <= revisions[1]["time_ms"] <= revisions[2]["time_ms"]
    # The node as REST renders it on GET.
    assert revisions[-1]["node"] == ok(api.get(f"/api/v1/artifacts/{model}"))


def test_history_of_executions_and_contexts(api, pipeline):
    ok(api.patch(f"/api/v1/executions/{pipeline['trainer']}", json={"last_known_state": "FAILED"}))
    executions = ok(api.get(f"/api/v1/executions/{pipeline['trainer']}/history"))["revisions"]
    assert [r["operation"] for r in executions] == ["create", "update"]
    assert executions[1]["changed"] == ["last_known_state"]
    assert executions[1]["node"]["last_known_state"] == "FAILED"
    contexts = ok(api.get(f"/api/v1/contexts/{pipeline['run']}/history"))["revisions"]
    assert [r["operation"] for r in contexts] == ["create"]
    assert contexts[0]["node"]["name"] == "run-1"


def test_history_of_an_id_that_never_existed_is_404(api, pipeline):
    for plural in ("artifacts", "executions", "contexts"):
        message = error(api.get(f"/api/v1/{plural}/987654/history"), 404, "NOT_FOUND")
        assert "987654" in message


def test_delete_hides_the_node_and_history_ends_with_the_deletion(api, pipeline):
    model = pipeline["model"]
    before = ok(api.get(f"/api/v1/artifacts/{model}"))
    moment = _moment()
    response = api.delete(f"/api/v1/artifacts/{model}")
    assert response.status_code == 204, response.text
    assert response.content == b""
    error(api.get(f"/api/v1/artifacts/{model}"), 404, "NOT_FOUND")
    listed = ok(api.get("/api/v1/artifacts"))["artifacts"]
    assert [int(a["id"]) for a in listed] == [pipeline["data"]]
    revisions = ok(api.get(f"/api/v1/artifacts/{model}/history"))["revisions"]
    assert [r["operation"] for r in revisions] == ["create", "delete"]
    assert revisions[-1]["node"] is None and revisions[-1]["surface"] == "rest"
    # Before the deletion the node is whole.
    assert ok(api.get(f"/api/v1/artifacts/{model}", params={"as_of": moment})) == before
    # A second delete, and deletes of ids that never existed: 404, nothing changed.
    error(api.delete(f"/api/v1/artifacts/{model}"), 404, "NOT_FOUND")
    error(api.delete("/api/v1/executions/424242"), 404, "NOT_FOUND")
    error(api.delete("/api/v1/contexts/424242"), 404, "NOT_FOUND")
    assert len(ok(api.get("/api/v1/executions"))["executions"]) == 1
    assert len(ok(api.get("/api/v1/contexts"))["contexts"]) == 1


def test_delete_executions_and_contexts(api, pipeline):
    assert api.delete(f"/api/v1/executions/{pipeline['trainer']}").status_code == 204
    assert api.delete(f"/api/v1/contexts/{pipeline['run']}").status_code == 204
    error(api.get(f"/api/v1/executions/{pipeline['trainer']}"), 404, "NOT_FOUND")
    error(api.get(f"/api/v1/contexts/{pipeline['run']}"), 404, "NOT_FOUND")
    ops = [r["operation"] for r in ok(api.get(f"/api/v1/contexts/{pipeline['run']}/history"))["revisions"]]
    assert ops == ["create", "delete"]


_READS = (
    "/api/v1/artifacts/{model}",
    "/api/v1/artifacts",
    "/api/v1/artifacts?filter=uri LIKE '/model/%'",
    "/api/v1/artifacts?page_size=1",
    "/api/v1/artifacts?page_size=1&order_by=id desc",
    "/api/v1/executions",
    "/api/v1/executions/{trainer}",
    "/api/v1/contexts",
    "/api/v1/contexts/{run}",
    "/api/v1/artifacts/{model}/events",
    "/api/v1/artifacts/{model}/contexts",
    "/api/v1/executions/{trainer}/events",
    "/api/v1/executions/{trainer}/contexts",
    "/api/v1/contexts/{run}/artifacts",
    "/api/v1/contexts/{run}/artifacts?page_size=1",
    "/api/v1/contexts/{run}/executions",
    "/api/v1/contexts/{run}/parents",
    "/api/v1/contexts/{run}/children",
    "/api/v1/events?artifact_id={data}",
    "/api/v1/lineage?artifact_id={model}&direction=up",
    "/api/v1/lineage_subgraph?starting_artifacts=id = {model}&direction=UPSTREAM",
)


def _snapshot(api, ids: dict[str, int], as_of: int | str | None = None) -> dict[str, tuple[int, object]]:
    answers = {}
    for template in _READS:
        path = key = template.format(**ids)
        if as_of is not None:  # (httpx's params= would replace the query string of the path)
            path += ("&" if "?" in path else "?") + "as_of=" + quote(str(as_of))
        response = api.get(path)
        answers[key] = (response.status_code, response.json())
    return answers


def test_as_of_answers_every_read_as_it_was(api, pipeline):
    moments = []
    snapshots = []
    model, run = pipeline["model"], pipeline["run"]
    moments.append(_moment())
    snapshots.append(_snapshot(api, pipeline))
    ok(api.patch(f"/api/v1/artifacts/{model}", json={"uri": "/model/2", "custom_properties": {"blessed": {"bool_value": True}}}))
    ok(api.post("/api/v1/artifacts", json={"type": "Model", "uri": "/model/3"}), 201)
    ok(api.post("/api/v1/contexts", json={"type": "Run", "name": "run-2"}), 201)
    child = ok(api.post("/api/v1/contexts", json={"type": "Run", "name": "child"}), 201)
    ok(api.post("/api/v1/parent_contexts", json={"parent_id": run, "child_id": child["id"]}), 201)
    moments.append(_moment())
    snapshots.append(_snapshot(api, pipeline))
    assert api.delete(f"/api/v1/artifacts/{pipeline['data']}").status_code == 204
    ok(api.patch(f"/api/v1/executions/{pipeline['trainer']}", json={"last_known_state": "FAILED"}))
    moments.append(_moment())
    snapshots.append(_snapshot(api, pipeline))
    assert snapshots[0] != snapshots[1] != snapshots[2]
    for moment, snapshot in zip(moments, snapshots, strict=True):
        assert _snapshot(api, pipeline, moment) == snapshot
        assert _snapshot(api, pipeline, rfc3339(moment)) == snapshot
    # The default, no as_of, is the current state.
    assert _snapshot(api, pipeline) == snapshots[-1]


def test_as_of_paging_follows_the_token_of_the_same_moment(api, pipeline):
    moment = _moment()
    ok(api.post("/api/v1/artifacts", json={"type": "Model", "uri": "/model/later"}), 201)
    first = ok(api.get("/api/v1/artifacts", params={"page_size": 1, "as_of": moment}))
    assert [a["uri"] for a in first["artifacts"]] == ["/data/1"]
    second = ok(api.get("/api/v1/artifacts", params={"page_size": 1, "as_of": moment,
                                                    "page_token": first["next_page_token"]}))
    assert [a["uri"] for a in second["artifacts"]] == ["/model/1"]
    assert not second.get("next_page_token")


def test_bad_as_of_is_400_in_rest_words_and_changes_nothing(api, pipeline):
    future = time.time_ns() // 1_000_000 + 3_600_000
    for value in ("yesterday", "2026-13-45T00:00:00Z", "2026-05-01T12:00:00", str(future), "1",
                  datetime.fromtimestamp(future / 1000, tz=timezone.utc).isoformat(), "9" * 30):
        for path in (f"/api/v1/artifacts/{pipeline['model']}", "/api/v1/artifacts",
                     f"/api/v1/lineage?artifact_id={pipeline['model']}"):
            message = error(api.get(path, params={"as_of": value}), 400, "INVALID_ARGUMENT")
            assert "as_of" in message or "store" in message or "future" in message, message
    assert len(ok(api.get("/api/v1/artifacts"))["artifacts"]) == 2


def test_openlineage_writes_are_attributed_to_openlineage(api):
    event = {
        "eventType": "COMPLETE",
        "eventTime": "2026-05-01T12:00:00Z",
        "run": {"runId": "3f5e8c1a-0b7d-4c1e-9f2a-1234567890ab"},
        "job": {"namespace": "ns", "name": "train"},
        "inputs": [{"namespace": "s3://b", "name": "raw"}],
        "outputs": [],
        "producer": "https://example.com/producer",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }
    response = api.post("/api/v1/lineage", json=event)
    assert response.status_code in (200, 201), response.text
    [artifact] = ok(api.get("/api/v1/artifacts"))["artifacts"]
    [first] = ok(api.get(f"/api/v1/artifacts/{artifact['id']}/history"))["revisions"][:1]
    assert first["surface"] == "openlineage"
    assert first["peer"].startswith("127.0.0.1:")


def test_openapi_documents_history_and_delete(api):
    spec = ok(api.get("/openapi.json"))
    for plural in ("artifacts", "executions", "contexts"):
        assert "get" in spec["paths"][f"/api/v1/{plural}/{{id}}/history"]
        assert "delete" in spec["paths"][f"/api/v1/{plural}/{{id}}"]
    names = {p["name"] for p in spec["paths"]["/api/v1/artifacts"]["get"]["parameters"]}
    assert "as_of" in names
    assert "Revision" in spec["components"]["schemas"]


def test_as_of_on_type_reads_and_the_lineage_query_body(api, pipeline):
    moment = _moment()
    ok(api.post("/api/v1/artifact_types", params={"can_add_fields": "true"},
                json={"name": "Model", "properties": {"acc": "DOUBLE", "loss": "DOUBLE"}}))  # fmt: skip
    ok(api.post("/api/v1/artifact_types", json={"name": "Later"}))
    then = {"as_of": moment}
    assert set(ok(api.get("/api/v1/artifact_types/by-name", params={"name": "Model", **then}))["properties"]) == {"acc"}
    assert set(ok(api.get("/api/v1/artifact_types/by-name", params={"name": "Model"}))["properties"]) == {"acc", "loss"}
    typed = ok(api.get(f"/api/v1/artifact_types/{pipeline['model_type']}", params=then))
    assert set(typed["properties"]) == {"acc"}
    names = {t["name"] for t in ok(api.get("/api/v1/artifact_types", params=then))["artifact_types"]}
    assert "Later" not in names and "Model" in names
    error(api.get("/api/v1/artifact_types/by-name", params={"name": "Later", **then}), 404, "NOT_FOUND")

    ok(api.post("/api/v1/artifacts", json={"type": "Model", "uri": "/model/9"}), 201)
    body = {
        "lineage_subgraph_query_options": {
            "starting_artifacts": {"filter_query": "type = 'Model'"},
            "max_num_hops": 2,
        }
    }
    now = ok(api.post("/api/v1/lineage_subgraph:query", json=body))["lineage_subgraph"]
    past = ok(api.post("/api/v1/lineage_subgraph:query", params=then, json=body))["lineage_subgraph"]
    assert "/model/9" in {a.get("uri") for a in now["artifacts"]}
    assert "/model/9" not in {a.get("uri") for a in past["artifacts"]}


def test_diff_of_two_revisions(api, pipeline):
    model = pipeline["model"]
    ok(api.patch(f"/api/v1/artifacts/{model}", json={"uri": "/model/2", "properties": {"acc": {"double_value": 0.9}}}))
    ok(api.patch(f"/api/v1/artifacts/{model}", json={"state": "DELETED"}))
    last = len(ok(api.get(f"/api/v1/artifacts/{model}/history"))["revisions"])
    diff = ok(api.get(f"/api/v1/artifacts/{model}/history/diff", params={"from": 1, "to": last}))
    changes = {c["path"]: (c["before"], c["after"]) for c in diff["changes"]}
    assert changes["uri"] == ("/model/1", "/model/2")
    assert changes["properties.acc"] == (None, {"double_value": 0.9})
    assert changes["state"] == ("LIVE", "DELETED")
    assert set(changes) == {"uri", "properties.acc", "state"}
    backwards = ok(api.get(f"/api/v1/artifacts/{model}/history/diff", params={"from": last, "to": 1}))
    assert {c["path"]: (c["after"], c["before"]) for c in backwards["changes"]} == changes
    same = ok(api.get(f"/api/v1/artifacts/{model}/history/diff", params={"from": 2, "to": 2}))
    assert same["changes"] == []
    error(api.get(f"/api/v1/artifacts/{model}/history/diff", params={"from": 1, "to": 99}), 404, "NOT_FOUND")
    error(api.get(f"/api/v1/artifacts/{model}/history/diff", params={"from": 0, "to": 1}), 400, "INVALID_ARGUMENT")
    error(api.get("/api/v1/artifacts/999999/history/diff", params={"from": 1, "to": 1}), 404, "NOT_FOUND")
