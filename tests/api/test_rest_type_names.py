"""REST: every endpoint that writes nodes takes a type by name (`type`) as well as by id, on both backends."""

from __future__ import annotations

import httpx
import pytest
from rest_server import http_client


@pytest.fixture
def api(store) -> httpx.Client:
    with http_client(store) as client:
        for kind, name in (("artifact", "Model"), ("execution", "Trainer"), ("context", "Pipeline")):
            answer = client.post(f"/api/v1/{kind}_types", json={"name": name})
            assert answer.status_code == 200, answer.text
        yield client


def _type_names(api, plural: str, ids) -> list[str]:
    return [api.get(f"/api/v1/{plural}/{node_id}").json()["type"] for node_id in ids]


def test_put_execution_takes_types_by_name(api):
    body = {
        "execution": {"type": "Trainer", "last_known_state": "COMPLETE"},
        "artifact_event_pairs": [{"artifact": {"type": "Model", "uri": "/m"}, "event": {"type": "OUTPUT"}}],
        "contexts": [{"type": "Pipeline", "name": "p1"}],
    }
    answer = api.post("/api/v1/executions:put", json=body)
    assert answer.status_code == 200, answer.text
    ids = answer.json()
    assert _type_names(api, "executions", [ids["execution_id"]]) == ["Trainer"]
    assert _type_names(api, "artifacts", ids["artifact_ids"]) == ["Model"]
    assert _type_names(api, "contexts", ids["context_ids"]) == ["Pipeline"]


def test_put_lineage_subgraph_takes_types_by_name(api):
    body = {
        "executions": [{"type": "Trainer"}],
        "artifacts": [{"type": "Model", "uri": "/a"}, {"type": "Model", "uri": "/b"}],
        "contexts": [{"type": "Pipeline", "name": "p2"}],
        "event_edges": [
            {"execution_index": 0, "artifact_index": 0, "event": {"type": "INPUT"}},
            {"execution_index": 0, "artifact_index": 1, "event": {"type": "OUTPUT"}},
        ],
    }
    answer = api.post("/api/v1/lineage_subgraph:put", json=body)
    assert answer.status_code == 200, answer.text
    ids = answer.json()
    assert _type_names(api, "artifacts", ids["artifact_ids"]) == ["Model", "Model"]
    assert _type_names(api, "executions", ids["execution_ids"]) == ["Trainer"]


def test_batch_put_takes_types_by_name(api):
    answer = api.post("/api/v1/contexts:batchPut", json={"contexts": [{"type": "Pipeline", "name": "p3"}]})
    assert answer.status_code == 200, answer.text
    assert _type_names(api, "contexts", answer.json()["context_ids"]) == ["Pipeline"]


def test_an_unknown_type_name_is_not_found_on_every_write(api):
    for path, body in (
        ("/api/v1/executions", {"type": "Nope"}),
        ("/api/v1/executions:put", {"execution": {"type": "Nope"}}),
        ("/api/v1/lineage_subgraph:put", {"artifacts": [{"type": "Nope"}]}),
        ("/api/v1/artifacts:batchPut", {"artifacts": [{"type": "Trainer"}]}),  # an execution type's name
    ):
        answer = api.post(path, json=body)
        assert answer.status_code == 404, (path, answer.text)
        name = "Trainer" if "batchPut" in path else "Nope"
        assert answer.json()["code"] == "NOT_FOUND" and repr(name) in answer.json()["message"], answer.text
