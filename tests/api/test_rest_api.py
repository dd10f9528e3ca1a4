"""The REST API over a real HTTP socket, on SQLite and PostgreSQL: every /api/v1 resource, lists and errors."""

from __future__ import annotations

import base64
import json
import zlib

import httpx
import pytest
from rest_server import http_client

ARTIFACT_TYPE = {"name": "Model", "properties": {"acc": "DOUBLE", "framework": "STRING"}}
EXECUTION_TYPE = {"name": "Trainer", "properties": {"epochs": "INT"}}
CONTEXT_TYPE = {"name": "Pipeline", "properties": {"owner": "STRING"}}


@pytest.fixture
def api(store) -> httpx.Client:
    with http_client(store) as client:
        yield client


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message"}, body
    assert body["code"] == code, body
    assert "Traceback" not in body["message"]
    return body["message"]


@pytest.fixture
def types(api) -> dict[str, int]:
    return {
        "artifact": int(ok(api.post("/api/v1/artifact_types", json=ARTIFACT_TYPE))["id"]),
        "execution": int(ok(api.post("/api/v1/execution_types", json=EXECUTION_TYPE))["id"]),
        "context": int(ok(api.post("/api/v1/context_types", json=CONTEXT_TYPE))["id"]),
    }


def new_artifact(api, type_id: int, **fields) -> dict:
    return ok(api.post("/api/v1/artifacts", json={"type_id": type_id, **fields}), 201)


def new_execution(api, type_id: int, **fields) -> dict:
    return ok(api.post("/api/v1/executions", json={"type_id": type_id, **fields}), 201)


def new_context(api, type_id: int, name: str, **fields) -> dict:
    return ok(api.post("/api/v1/contexts", json={"type_id": type_id, "name": name, **fields}), 201)


# --- types ---------------------------------------------------------------------------------------


def test_type_upsert_returns_the_stored_type_and_is_idempotent(api):
    created = ok(api.post("/api/v1/artifact_types", json=ARTIFACT_TYPE))
    assert created["name"] == "Model" and created["properties"] == {"acc": "DOUBLE", "framework": "STRING"}
    assert int(created["id"]) >= 10  # after MLMD's nine system types
    again = ok(api.post("/api/v1/artifact_types", json=ARTIFACT_TYPE))
    assert again["id"] == created["id"]


def test_type_get_by_id_by_name_and_version_and_list(api):
    plain = ok(api.post("/api/v1/execution_types", json=EXECUTION_TYPE))
    versioned = ok(api.post("/api/v1/execution_types", json={**EXECUTION_TYPE, "version": "v2", "external_id": "t-v2"}))
    assert ok(api.get(f"/api/v1/execution_types/{plain['id']}")) == plain
    assert ok(api.get("/api/v1/execution_types/by-name", params={"name": "Trainer"}))["id"] == plain["id"]
    found = ok(api.get("/api/v1/execution_types/by-name", params={"name": "Trainer", "version": "v2"}))
    assert found["id"] == versioned["id"] and found["version"] == "v2"
    listed = ok(api.get("/api/v1/execution_types"))["execution_types"]
    assert {t["id"] for t in listed} >= {plain["id"], versioned["id"]}
    by_external = ok(api.get("/api/v1/execution_types", params={"external_id": "t-v2"}))["execution_types"]
    assert [t["id"] for t in by_external] == [versioned["id"]]
    assert ok(api.get("/api/v1/execution_types", params={"external_id": "nope"}))["execution_types"] == []
    error(api.get("/api/v1/execution_types/999999"), 404, "NOT_FOUND")
    error(api.get("/api/v1/execution_types/by-name", params={"name": "Nope"}), 404, "NOT_FOUND")
    error(api.get(f"/api/v1/artifact_types/{plain['id']}"), 404, "NOT_FOUND")  # an execution type's id


def test_type_evolution_needs_flags_and_a_property_type_never_changes(api):
    ok(api.post("/api/v1/context_types", json=CONTEXT_TYPE))
    more = {"name": "Pipeline", "properties": {"owner": "STRING", "team": "STRING"}}
    error(api.post("/api/v1/context_types", json=more), 409, "ALREADY_EXISTS")
    evolved = ok(api.post("/api/v1/context_types", params={"can_add_fields": "true"}, json=more))
    assert set(evolved["properties"]) == {"owner", "team"}
    fewer = {"name": "Pipeline", "properties": {"owner": "STRING"}}
    assert set(ok(api.post("/api/v1/context_types", params={"can_omit_fields": "true"}, json=fewer))["properties"]) == {
        "owner",
        "team",
    }
    changed = {"name": "Pipeline", "properties": {"owner": "INT"}}
    error(api.post("/api/v1/context_types", params={"can_add_fields": "true"}, json=changed), 409, "ALREADY_EXISTS")


def test_put_types_in_one_call(api):
    body = {
        "artifact_types": [{"name": "Data"}],
        "execution_types": [EXECUTION_TYPE],
        "context_types": [CONTEXT_TYPE, {"name": "Run"}],
    }
    answer = ok(api.post("/api/v1/types:batchPut", json=body))
    assert len(answer["artifact_type_ids"]) == 1 and len(answer["context_type_ids"]) == 2
    assert ok(api.get(f"/api/v1/context_types/{answer['context_type_ids'][1]}"))["name"] == "Run"


# --- nodes ---------------------------------------------------------------------------------------


def test_create_and_get_each_kind(api, types):
    artifact = new_artifact(
        api, types["artifact"], uri="/m/1", name="m1", state="LIVE",
        properties={"acc": {"double_value": 0.9}}, custom_properties={"note": {"string_value": "x"}},
    )  # fmt: skip
    assert artifact["type"] == "Model" and artifact["state"] == "LIVE" and artifact["uri"] == "/m/1"
    assert isinstance(artifact["id"], str) and int(artifact["create_time_since_epoch"]) > 0
    assert ok(api.get(f"/api/v1/artifacts/{artifact['id']}")) == artifact
    execution = new_execution(api, types["execution"], last_known_state="RUNNING", properties={"epochs": {"int_value": 3}})
    assert execution["properties"]["epochs"] == {"int_value": "3"}
    assert ok(api.get(f"/api/v1/executions/{execution['id']}"))["last_known_state"] == "RUNNING"
    context = new_context(api, types["context"], "p1", properties={"owner": {"string_value": "ana"}})
    assert ok(api.get(f"/api/v1/contexts/{context['id']}"))["name"] == "p1"


def test_create_by_type_name_and_camel_case_input(api, types):
    artifact = ok(api.post("/api/v1/artifacts", json={"type": "Model", "customProperties": {"k": {"intValue": "5"}}}), 201)
    assert artifact["type_id"] == str(types["artifact"])
    assert artifact["custom_properties"] == {"k": {"int_value": "5"}}
    error(api.post("/api/v1/artifacts", json={"type": "NoSuchType"}), 404, "NOT_FOUND")


def test_create_rules(api, types):
    error(api.post("/api/v1/artifacts", json={"id": "5", "type_id": types["artifact"]}), 400, "INVALID_ARGUMENT")
    error(api.post("/api/v1/artifacts", json={"uri": "/x"}), 400, "INVALID_ARGUMENT")  # no type
    error(api.post("/api/v1/artifacts", json={"type_id": 999999}), 404, "NOT_FOUND")
    undeclared = {"type_id": types["artifact"], "properties": {"nope": {"int_value": 1}}}
    error(api.post("/api/v1/artifacts", json=undeclared), 400, "INVALID_ARGUMENT")
    wrong_type = {"type_id": types["artifact"], "properties": {"acc": {"string_value": "high"}}}
    error(api.post("/api/v1/artifacts", json=wrong_type), 400, "INVALID_ARGUMENT")
    error(api.post("/api/v1/contexts", json={"type_id": types["context"]}), 400, "INVALID_ARGUMENT")  # no name
    new_artifact(api, types["artifact"], name="dup")
    error(api.post("/api/v1/artifacts", json={"type_id": types["artifact"], "name": "dup"}), 409, "ALREADY_EXISTS")
    new_context(api, types["context"], "same")
    error(api.post("/api/v1/contexts", json={"type_id": types["context"], "name": "same"}), 409, "ALREADY_EXISTS")


def test_put_replaces_and_patch_updates_with_masks(api, types):
    artifact = new_artifact(
        api, types["artifact"], uri="/a", properties={"acc": {"double_value": 0.5}},
        custom_properties={"keep": {"string_value": "k"}, "drop": {"string_value": "d"}},
    )  # fmt: skip
    path = f"/api/v1/artifacts/{artifact['id']}"
    # PATCH without a mask changes what the body names and nothing else.
    patched = ok(api.patch(path, json={"uri": "/b", "custom_properties": {"new": {"int_value": 1}}}))
    assert patched["uri"] == "/b" and set(patched["custom_properties"]) == {"keep", "drop", "new"}
    assert patched["properties"] == {"acc": {"double_value": 0.5}}
    # An explicit mask deletes a masked key that the body leaves out.
    patched = ok(api.patch(path, params={"update_mask": "custom_properties.drop,uri"}, json={"uri": "/c"}))
    assert patched["uri"] == "/c" and set(patched["custom_properties"]) == {"keep", "new"}
    # PUT replaces: what the body lacks is gone.
    replaced = ok(api.put(path, json={"uri": "/d", "properties": {"framework": {"string_value": "jax"}}}))
    assert replaced["uri"] == "/d" and replaced["properties"] == {"framework": {"string_value": "jax"}}
    assert replaced["custom_properties"] == {}
    assert int(replaced["last_update_time_since_epoch"]) >= int(artifact["last_update_time_since_epoch"])
    error(api.patch(path, json={}), 400, "INVALID_ARGUMENT")
    error(api.put(path, json={"id": "12345"}), 400, "INVALID_ARGUMENT")
    error(api.patch("/api/v1/artifacts/999999", json={"uri": "/x"}), 404, "NOT_FOUND")
    error(api.put(path, json={"type_id": types["artifact"] + 1}), 400, "INVALID_ARGUMENT")


def test_update_executions_and_contexts(api, types):
    execution = new_execution(api, types["execution"], last_known_state="RUNNING")
    done = ok(api.patch(f"/api/v1/executions/{execution['id']}", json={"last_known_state": "COMPLETE"}))
    assert done["last_known_state"] == "COMPLETE"
    context = new_context(api, types["context"], "c1")
    renamed = ok(api.patch(f"/api/v1/contexts/{context['id']}", json={"properties": {"owner": {"string_value": "bo"}}}))
    assert renamed["properties"]["owner"] == {"string_value": "bo"} and renamed["name"] == "c1"


def test_artifact_optimistic_concurrency_is_aborted_on_a_stale_read(api, types):
    artifact = new_artifact(api, types["artifact"], uri="/a")
    path = f"/api/v1/artifacts/{artifact['id']}"
    params = {"abort_if_latest_updated_time_changed": "true"}
    fresh = ok(api.patch(path, params=params, json={"uri": "/b", "last_update_time_since_epoch": artifact["last_update_time_since_epoch"]}))
    stale = {"uri": "/c", "last_update_time_since_epoch": str(int(fresh["last_update_time_since_epoch"]) - 1)}
    error(api.patch(path, params=params, json=stale), 409, "ABORTED")
    assert ok(api.get(path))["uri"] == "/b"


def test_batch_put_inserts_and_updates(api, types):
    answer = ok(api.post("/api/v1/artifacts:batchPut", json={"artifacts": [
        {"type_id": types["artifact"], "uri": "/1"}, {"type_id": types["artifact"], "uri": "/2"},
    ]}))  # fmt: skip
    first, second = answer["artifact_ids"]
    update = {"artifacts": [{"id": first, "uri": "/1b"}], "update_mask": "uri"}
    assert ok(api.post("/api/v1/artifacts:batchPut", json=update))["artifact_ids"] == [first]
    assert ok(api.get(f"/api/v1/artifacts/{first}"))["uri"] == "/1b"
    executions = ok(api.post("/api/v1/executions:batchPut", json={"executions": [{"type_id": types["execution"]}]}))
    assert len(executions["execution_ids"]) == 1
    contexts = ok(api.post("/api/v1/contexts:batchPut", json={"contexts": [{"type_id": types["context"], "name": "b"}]}))
    assert len(contexts["context_ids"]) == 1
    error(api.post("/api/v1/artifacts:batchPut", json={"artifacts": [{"id": "999999", "uri": "/x"}]}), 400, "INVALID_ARGUMENT")
    assert second


# --- lists ---------------------------------------------------------------------------------------


def test_list_pages_with_tokens_and_orders(api, types):
    ids = [int(new_artifact(api, types["artifact"], uri=f"/p/{i}")["id"]) for i in range(25)]
    seen, token, pages = [], None, 0
    while True:
        params = {"page_size": 10, **({"page_token": token} if token else {})}
        page = ok(api.get("/api/v1/artifacts", params=params))
        seen += [int(a["id"]) for a in page["artifacts"]]
        pages += 1
        token = page["next_page_token"]
        if not token:
            break
    assert seen == ids and pages == 3
    newest_first = ok(api.get("/api/v1/artifacts", params={"order_by": "create_time desc", "page_size": 5}))
    assert [int(a["id"]) for a in newest_first["artifacts"]] == sorted(ids, reverse=True)[:5]
    by_id_desc = ok(api.get("/api/v1/artifacts", params={"order_by": "id DESC", "page_size": 3}))
    assert [int(a["id"]) for a in by_id_desc["artifacts"]] == sorted(ids, reverse=True)[:3]
    by_update = ok(api.get("/api/v1/artifacts", params={"order_by": "update_time", "page_size": 1000}))
    assert len(by_update["artifacts"]) == 25 and by_update["next_page_token"] == ""
    # A token belongs to its listing: another filter or order is refused.
    first = ok(api.get("/api/v1/artifacts", params={"page_size": 10}))
    other = {"page_size": 10, "page_token": first["next_page_token"], "order_by": "create_time"}
    error(api.get("/api/v1/artifacts", params=other), 400, "INVALID_ARGUMENT")
    error(api.get("/api/v1/artifacts", params={"page_token": "garbage!"}), 400, "INVALID_ARGUMENT")
    for bad in ({"page_size": 0}, {"page_size": 1001}, {"page_size": "x"}, {"order_by": "name"}, {"order_by": "id sideways"}):
        error(api.get("/api/v1/artifacts", params=bad), 400, "INVALID_ARGUMENT")


def test_list_filters(api, types):
    model = new_artifact(api, types["artifact"], uri="/models/a", name="a", state="LIVE",
                         properties={"acc": {"double_value": 0.95}}, custom_properties={"tag": {"string_value": "best"}})
    new_artifact(api, types["artifact"], uri="/models/b", name="b", state="DELETED", properties={"acc": {"double_value": 0.5}})
    new_artifact(api, types["artifact"], uri="/other/c", name="c", external_id="ext-c")
    data_type = ok(api.post("/api/v1/artifact_types", json={"name": "Data"}))
    data = new_artifact(api, int(data_type["id"]), uri="/data/d")
    context = new_context(api, types["context"], "pipe")
    ok(api.post("/api/v1/attributions", json={"artifact_id": model["id"], "context_id": context["id"]}), 201)

    def names(query: str, **params) -> list[str]:
        found = ok(api.get("/api/v1/artifacts", params={"filter": query, **params}))["artifacts"]
        return [a.get("name", a["uri"]) for a in found]

    assert names("properties.acc.double_value > 0.9") == ["a"]
    assert names("uri LIKE '/models/%' AND state = LIVE") == ["a"]
    assert names("custom_properties.tag.string_value = 'best'") == ["a"]
    assert names("type = 'Model' AND (name = 'b' OR external_id = 'ext-c')") == ["b", "c"]
    assert names("contexts_p.name = 'pipe'") == ["a"]
    assert names(f"id IN ({model['id']}, {data['id']})") == ["a", "/data/d"]
    assert names("uri != ''", type_name="Data") == ["/data/d"]
    assert names("name = 'zzz'") == []
    assert ok(api.get("/api/v1/artifacts", params={"type_name": "NoType"}))["artifacts"] == []
    error(api.get("/api/v1/artifacts", params={"filter": "nonsense ==="}), 400, "INVALID_ARGUMENT")
    error(api.get("/api/v1/artifacts", params={"filter": "unknown_field = 1"}), 400, "INVALID_ARGUMENT")
    executions = ok(api.get("/api/v1/executions", params={"filter": "last_known_state = COMPLETE"}))
    assert executions["executions"] == []
    contexts = ok(api.get("/api/v1/contexts", params={"filter": "artifacts_a.name = 'a'"}))
    assert [c["name"] for c in contexts["contexts"]] == ["pipe"]


# --- edges and neighbourhoods --------------------------------------------------------------------


@pytest.fixture
def graph(api, types) -> dict:
    """data -> train -> model, in pipeline context, with a parent context."""
    data = new_artifact(api, types["artifact"], uri="/data")
    model = new_artifact(api, types["artifact"], uri="/model")
    train = new_execution(api, types["execution"], last_known_state="COMPLETE")
    pipeline = new_context(api, types["context"], "pipeline")
    parent = new_context(api, types["context"], "project")
    ok(api.post("/api/v1/events", json={"artifact_id": data["id"], "execution_id": train["id"], "type": "INPUT",
                                        "path": {"steps": [{"key": "examples"}, {"index": 0}]}}), 201)
    ok(api.post("/api/v1/events", json={"artifact_id": model["id"], "execution_id": train["id"], "type": "OUTPUT"}), 201)
    ok(api.post("/api/v1/attributions", json={"artifact_id": data["id"], "context_id": pipeline["id"]}), 201)
    ok(api.post("/api/v1/associations", json={"execution_id": train["id"], "context_id": pipeline["id"]}), 201)
    ok(api.post("/api/v1/parent_contexts", json={"child_id": pipeline["id"], "parent_id": parent["id"]}), 201)
    return {"data": data, "model": model, "train": train, "pipeline": pipeline, "parent": parent}


def test_events(api, graph):
    train, data, model = graph["train"]["id"], graph["data"]["id"], graph["model"]["id"]
    events = ok(api.get(f"/api/v1/executions/{train}/events"))["events"]
    assert [(e["artifact_id"], e["type"]) for e in events] == [(data, "INPUT"), (model, "OUTPUT")]
    assert events[0]["path"] == {"steps": [{"key": "examples"}, {"index": "0"}]}
    assert int(events[0]["milliseconds_since_epoch"]) > 0
    assert [e["type"] for e in ok(api.get(f"/api/v1/artifacts/{model}/events"))["events"]] == ["OUTPUT"]
    assert len(ok(api.get("/api/v1/events", params={"execution_id": [train]}))["events"]) == 2
    assert len(ok(api.get("/api/v1/events", params={"artifact_id": [data, model]}))["events"]) == 2
    error(api.get("/api/v1/events"), 400, "INVALID_ARGUMENT")
    duplicate = {"artifact_id": data, "execution_id": train, "type": "INPUT"}
    error(api.post("/api/v1/events", json=duplicate), 409, "ALREADY_EXISTS")
    error(api.post("/api/v1/events", json={**duplicate, "artifact_id": "999999"}), 400, "INVALID_ARGUMENT")
    error(api.post("/api/v1/events", json={"artifact_id": data, "execution_id": train}), 400, "INVALID_ARGUMENT")
    batch = {"events": [{"artifact_id": model, "execution_id": train, "type": "DECLARED_OUTPUT"}]}
    assert ok(api.post("/api/v1/events:batchPut", json=batch)) == {}
    error(api.get("/api/v1/executions/999999/events"), 404, "NOT_FOUND")


def test_attributions_associations_and_contexts_of_nodes(api, graph, types):
    pipeline, data, train = graph["pipeline"]["id"], graph["data"]["id"], graph["train"]["id"]
    again = {"artifact_id": data, "context_id": pipeline}
    ok(api.post("/api/v1/attributions", json=again), 201)  # already there: nothing happens
    assert [c["id"] for c in ok(api.get(f"/api/v1/artifacts/{data}/contexts"))["contexts"]] == [pipeline]
    assert [c["id"] for c in ok(api.get(f"/api/v1/executions/{train}/contexts"))["contexts"]] == [pipeline]
    assert ok(api.get(f"/api/v1/artifacts/{graph['model']['id']}/contexts"))["contexts"] == []
    error(api.post("/api/v1/attributions", json={"artifact_id": data, "context_id": "999999"}), 400, "INVALID_ARGUMENT")
    error(api.post("/api/v1/associations", json={"execution_id": "999999", "context_id": pipeline}), 400, "INVALID_ARGUMENT")
    batch = {"attributions": [{"artifact_id": graph["model"]["id"], "context_id": pipeline}], "associations": []}
    assert ok(api.post("/api/v1/attributions_and_associations:batchPut", json=batch)) == {}
    members = ok(api.get(f"/api/v1/contexts/{pipeline}/artifacts", params={"page_size": 1}))
    assert len(members["artifacts"]) == 1 and members["next_page_token"]
    rest = ok(api.get(f"/api/v1/contexts/{pipeline}/artifacts", params={"page_size": 1, "page_token": members["next_page_token"]}))
    assert {members["artifacts"][0]["id"], rest["artifacts"][0]["id"]} == {data, graph["model"]["id"]}
    filtered = ok(api.get(f"/api/v1/contexts/{pipeline}/artifacts", params={"filter": "uri = '/model'"}))
    assert [a["id"] for a in filtered["artifacts"]] == [graph["model"]["id"]]
    assert [e["id"] for e in ok(api.get(f"/api/v1/contexts/{pipeline}/executions"))["executions"]] == [train]
    error(api.get("/api/v1/contexts/999999/artifacts"), 404, "NOT_FOUND")
    error(api.get("/api/v1/artifacts/999999/contexts"), 404, "NOT_FOUND")


def test_parent_contexts(api, graph, types):
    pipeline, parent = graph["pipeline"]["id"], graph["parent"]["id"]
    assert [c["id"] for c in ok(api.get(f"/api/v1/contexts/{pipeline}/parents"))["contexts"]] == [parent]
    assert [c["id"] for c in ok(api.get(f"/api/v1/contexts/{parent}/children"))["contexts"]] == [pipeline]
    assert ok(api.get(f"/api/v1/contexts/{parent}/parents"))["contexts"] == []
    edge = {"child_id": pipeline, "parent_id": parent}
    error(api.post("/api/v1/parent_contexts", json=edge), 409, "ALREADY_EXISTS")
    error(api.post("/api/v1/parent_contexts", json={"child_id": parent, "parent_id": pipeline}), 400, "INVALID_ARGUMENT")
    error(api.post("/api/v1/parent_contexts", json={"child_id": parent, "parent_id": parent}), 400, "INVALID_ARGUMENT")
    error(api.post("/api/v1/parent_contexts", json={"child_id": parent, "parent_id": "999999"}), 400, "INVALID_ARGUMENT")
    error(api.get("/api/v1/contexts/999999/children"), 404, "NOT_FOUND")


def test_put_execution_records_a_step_in_one_call(api, types):
    body = {
        "execution": {"type_id": types["execution"], "last_known_state": "COMPLETE", "properties": {"epochs": {"int_value": 2}}},
        "artifact_event_pairs": [
            {"artifact": {"type_id": types["artifact"], "uri": "/in", "external_id": "in-1"}, "event": {"type": "INPUT"}},
            {"artifact": {"type_id": types["artifact"], "uri": "/out"}, "event": {"type": "OUTPUT"}},
        ],
        "contexts": [{"type_id": types["context"], "name": "run-1"}],
        "options": {"reuse_context_if_already_exist": True, "reuse_artifact_if_already_exist_by_external_id": True},
    }
    first = ok(api.post("/api/v1/executions:put", json=body))
    assert len(first["artifact_ids"]) == 2 and len(first["context_ids"]) == 1
    second = ok(api.post("/api/v1/executions:put", json=body))
    assert second["context_ids"] == first["context_ids"]  # reused by name
    assert second["artifact_ids"][0] == first["artifact_ids"][0]  # reused by external id
    members = ok(api.get(f"/api/v1/contexts/{first['context_ids'][0]}/executions"))["executions"]
    assert {m["id"] for m in members} == {first["execution_id"], second["execution_id"]}
    error(api.post("/api/v1/executions:put", json={**body, "options": {}}), 409, "ALREADY_EXISTS")


def test_put_lineage_subgraph(api, types):
    body = {
        "executions": [{"type_id": types["execution"]}],
        "artifacts": [{"type_id": types["artifact"], "uri": "/x"}, {"type_id": types["artifact"], "uri": "/y"}],
        "contexts": [{"type_id": types["context"], "name": "g"}],
        "event_edges": [
            {"execution_index": 0, "artifact_index": 0, "event": {"type": "INPUT"}},
            {"execution_index": 0, "artifact_index": 1, "event": {"type": "OUTPUT"}},
        ],
    }
    answer = ok(api.post("/api/v1/lineage_subgraph:put", json=body))
    assert len(answer["artifact_ids"]) == 2
    events = ok(api.get(f"/api/v1/executions/{answer['execution_ids'][0]}/events"))["events"]
    assert [e["type"] for e in events] == ["INPUT", "OUTPUT"]
    bad = {**body, "event_edges": [{"execution_index": 0, "artifact_index": 5, "event": {"type": "INPUT"}}]}
    error(api.post("/api/v1/lineage_subgraph:put", json=bad), 400, "OUT_OF_RANGE")


# --- lineage -------------------------------------------------------------------------------------


@pytest.fixture
def chain(api, types) -> dict:
    """a1 -> e1 -> a2 -> e2 -> a3."""
    a = [new_artifact(api, types["artifact"], uri=f"/a{i}", name=f"a{i}") for i in (1, 2, 3)]
    e = [new_execution(api, types["execution"], name=f"e{i}") for i in (1, 2)]
    for artifact, execution, kind in ((a[0], e[0], "INPUT"), (a[1], e[0], "OUTPUT"), (a[1], e[1], "INPUT"), (a[2], e[1], "OUTPUT")):
        ok(api.post("/api/v1/events", json={"artifact_id": artifact["id"], "execution_id": execution["id"], "type": kind}), 201)
    return {"a": [x["id"] for x in a], "e": [x["id"] for x in e]}


def _names(graph: dict) -> tuple[list[str], list[str]]:
    return sorted(a["name"] for a in graph.get("artifacts", [])), sorted(e["name"] for e in graph.get("executions", []))


def test_lineage_subgraph_directions_hops_and_endings(api, chain):
    def query(**params) -> dict:
        return ok(api.get("/api/v1/lineage_subgraph", params={"starting_artifacts": "name = 'a2'", **params}))

    assert _names(query(direction="UPSTREAM", max_num_hops=2)) == (["a1", "a2"], ["e1"])
    assert _names(query(direction="downstream", max_num_hops=2)) == (["a2", "a3"], ["e2"])
    both = query(max_num_hops=2)
    assert _names(both) == (["a1", "a2", "a3"], ["e1", "e2"]) and len(both["events"]) == 4
    assert {t["name"] for t in both["artifact_types"]} == {"Model"}
    assert _names(query(max_num_hops=0)) == (["a2"], [])
    assert _names(query(direction="DOWNSTREAM", ending_executions="name = 'e2'")) == (["a2"], [])
    assert _names(query(direction="DOWNSTREAM", ending_executions="name = 'e2'", include_ending_nodes="true")) == (
        ["a2"],
        ["e2"],
    )
    masked = query(read_mask="artifacts,events")
    assert {name for name, value in masked.items() if value} == {"artifacts", "events"}
    from_execution = ok(api.get("/api/v1/lineage_subgraph", params={"starting_executions": "name = 'e1'", "max_num_hops": 1}))
    assert _names(from_execution) == (["a1", "a2"], ["e1"])
    message = {
        "lineage_subgraph_query_options": {"starting_artifacts": {"filter_query": "name = 'a1'"}, "max_num_hops": "4",
                                           "direction": "DOWNSTREAM"},
        "read_mask": "artifacts,executions",
    }
    answer = ok(api.post("/api/v1/lineage_subgraph:query", json=message))["lineage_subgraph"]
    assert _names(answer) == (["a1", "a2", "a3"], ["e1", "e2"])


def test_lineage_subgraph_errors(api, chain):
    error(api.get("/api/v1/lineage_subgraph"), 400, "INVALID_ARGUMENT")
    both = {"starting_artifacts": "id = 1", "starting_executions": "id = 1"}
    error(api.get("/api/v1/lineage_subgraph", params=both), 400, "INVALID_ARGUMENT")
    error(api.get("/api/v1/lineage_subgraph", params={"starting_artifacts": "id = 1", "direction": "sideways"}), 400, "INVALID_ARGUMENT")
    error(api.get("/api/v1/lineage_subgraph", params={"starting_artifacts": "id = 1", "max_num_hops": -1}), 400, "INVALID_ARGUMENT")
    error(api.get("/api/v1/lineage_subgraph", params={"starting_artifacts": "id = 1", "read_mask": "nodes"}), 400, "INVALID_ARGUMENT")
    error(api.get("/api/v1/lineage_subgraph", params={"starting_artifacts": "bad filter ((("}), 400, "INVALID_ARGUMENT")
    error(api.get("/api/v1/lineage_subgraph", params={"starting_artifacts": "name = 'none'"}), 404, "NOT_FOUND")
    error(api.post("/api/v1/lineage_subgraph:query", json={}), 400, "INVALID_ARGUMENT")


def test_lineage_walk_with_the_engine_options_and_formats(api, chain):
    a1, a2, a3 = chain["a"]
    e1, e2 = chain["e"]

    def walk(**params) -> dict:
        return ok(api.get("/api/v1/lineage", params=params))

    up = walk(artifact_id=a2, direction="up")
    assert _names(up["graph"]) == (["a1", "a2"], ["e1"])
    assert {(h["kind"], h["id"], h["hop"]) for h in up["hops"]} == {("artifact", a2, 0), ("execution", e1, 1), ("artifact", a1, 2)}
    assert up["starting"] == [{"kind": "artifact", "id": a2}] and up["truncated"] is False and up["cursor"] == ""
    assert _names(walk(execution_id=e2, direction="down")["graph"]) == (["a3"], ["e2"])
    assert _names(walk(artifact_id=a1, max_hops=2)["graph"]) == (["a1", "a2"], ["e1"])
    assert _names(walk(artifact_id=a1, ending_executions="name = 'e2'", include_ending="false")["graph"]) == (
        ["a1", "a2"],
        ["e1"],
    )
    assert _names(walk(artifact_id=a1, execution_type="NoSuchType")["graph"]) == (["a1"], [])
    assert _names(walk(artifact_id=a1, artifact_state="LIVE")["graph"]) == (["a1"], ["e1"])  # states unset: pruned
    # A node cap pages the walk: pages never repeat a node and together give the whole answer.
    seen, cursor, pages = [], None, 0
    while True:
        page = walk(artifact_id=a1, max_nodes=2, **({"cursor": cursor} if cursor else {}))
        seen += [(h["kind"], h["id"]) for h in page["hops"]]
        pages += 1
        if not page["truncated"]:
            break
        cursor = page["cursor"]
    assert sorted(seen) == sorted({("artifact", x) for x in (a1, a2, a3)} | {("execution", x) for x in (e1, e2)})
    assert pages >= 3
    for form, media in (("dot", "text/vnd.graphviz"), ("graphml", "application/graphml+xml"), ("mermaid", "text/plain")):
        response = api.get("/api/v1/lineage", params={"artifact_id": a1, "format": form})
        assert response.status_code == 200 and response.headers["content-type"].startswith(media)
        assert "a1" in response.text
    node_link = ok(api.get("/api/v1/lineage", params={"artifact_id": a1, "format": "node-link"}))
    assert len(node_link["nodes"]) == 5 and len(node_link["edges"]) == 4
    error(api.get("/api/v1/lineage"), 400, "INVALID_ARGUMENT")
    error(api.get("/api/v1/lineage", params={"artifact_id": 999999}), 404, "NOT_FOUND")
    error(api.get("/api/v1/lineage", params={"artifact_id": a1, "cursor": "forged"}), 400, "INVALID_ARGUMENT")
    error(api.get("/api/v1/lineage", params={"artifact_id": a1, "artifact_state": "SHINY"}), 400, "INVALID_ARGUMENT")
    error(api.get("/api/v1/lineage", params={"artifact_id": a1, "direction": "sideways"}), 400, "INVALID_ARGUMENT")
    error(api.get("/api/v1/lineage", params={"artifact_id": a1, "max_nodes": 0}), 400, "INVALID_ARGUMENT")


def test_lineage_walk_cursor_of_another_query_or_forged_is_a_bad_request(api, chain):
    a1, a2, _ = chain["a"]
    page = ok(api.get("/api/v1/lineage", params={"artifact_id": a1, "max_nodes": 2}))
    assert page["truncated"] and page["cursor"]
    cursor = page["cursor"]
    message = error(api.get("/api/v1/lineage", params={"artifact_id": a2, "max_nodes": 2, "cursor": cursor}), 400,
                    "INVALID_ARGUMENT")  # fmt: skip
    assert "another query" in message and "starting nodes" in message
    error(api.get("/api/v1/lineage", params={"artifact_id": a1, "direction": "down", "cursor": cursor}), 400,
          "INVALID_ARGUMENT")  # fmt: skip
    error(api.get("/api/v1/lineage", params={"artifact_id": a1, "execution_type": "X", "cursor": cursor}), 400,
          "INVALID_ARGUMENT")  # fmt: skip
    # A forged cursor: the page token format with the right query but no walk state in it.
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    body = json.loads(raw if raw[:1] == b"{" else zlib.decompress(raw))
    forged = base64.urlsafe_b64encode(json.dumps({"v": body["v"], "q": body["q"]}).encode()).decode().rstrip("=")
    message = error(api.get("/api/v1/lineage", params={"artifact_id": a1, "cursor": forged}), 400, "INVALID_ARGUMENT")
    assert "not one this server issued" in message
    error(api.get("/api/v1/lineage", params={"artifact_id": a1, "cursor": cursor[:-6]}), 400, "INVALID_ARGUMENT")
    # The cursor still serves its own query.
    assert ok(api.get("/api/v1/lineage", params={"artifact_id": a1, "max_nodes": 2, "cursor": cursor}))["hops"]
    error(api.get("/api/v1/lineage", params={"artifact_id": a1, "ending_artifacts": "(("}), 400, "INVALID_ARGUMENT")
