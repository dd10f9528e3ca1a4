"""REST as thin as gRPC: each node write is one transaction, neighbours of a missing node are NOT_FOUND,
and every kind's routes are listed in the OpenAPI document; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from rest_server import http_client
from sqlalchemy import event

from mlineage.metadata.engine import make_engine
from mlineage.metadata.store import Store


class _Checkouts:
    """Counts the connections a store takes from its pool (one per transaction it opens)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *_args) -> None:
        self.count += 1

    def during(self, call) -> int:
        before = self.count
        call()
        return self.count - before


@pytest.fixture
def counted(store_url) -> Iterator[tuple[httpx.Client, _Checkouts]]:
    engine = make_engine(store_url)
    checkouts = _Checkouts()
    event.listen(engine, "checkout", checkouts)
    store = Store(engine)
    try:
        with http_client(store) as api:
            yield api, checkouts
    finally:
        store.close()
        engine.dispose()


def _ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def _not_found(response: httpx.Response) -> str:
    assert response.status_code == 404, response.text
    body = response.json()
    assert body["code"] == "NOT_FOUND", body
    return body["message"]


def test_each_node_write_is_one_transaction_whose_answer_is_the_stored_node(counted):
    api, checkouts = counted
    type_id = _ok(api.post("/api/v1/artifact_types", json={"name": "Model", "properties": {"acc": "DOUBLE"}}))["id"]
    created: dict = {}

    def create() -> None:
        created.update(_ok(api.post("/api/v1/artifacts", json={"type": "Model", "uri": "/m"}), 201))

    # The type by name is read (it is committed, and a name never changes its id); the insert and the
    # read of the stored node share one transaction: one connection from the pool, where the old
    # adapter took one for the write and another for the read back.
    assert checkouts.during(create) <= 2
    assert created["type_id"] == type_id and created["uri"] == "/m" and created["create_time_since_epoch"]
    path = f"/api/v1/artifacts/{created['id']}"
    trainer = _trainer(api)
    answers: list[dict] = []
    writes = [
        lambda: answers.append(_ok(api.put(path, json={"type_id": type_id, "uri": "/r"}))),
        lambda: answers.append(_ok(api.patch(path, json={"properties": {"acc": {"double_value": 0.5}}}))),
        lambda: answers.append(_ok(api.patch(path, params={"update_mask": "uri"}, json={"uri": "/p"}))),
        lambda: answers.append(_ok(api.post("/api/v1/executions", json={"type_id": trainer}), 201)),
    ]
    for write in writes:
        # The existence check, the write and the read back: one transaction (the old adapter: three).
        assert checkouts.during(write) == 1
    assert answers[0]["uri"] == "/r"
    assert answers[1]["properties"]["acc"]["double_value"] == 0.5 and answers[1]["uri"] == "/r"
    assert answers[2]["uri"] == "/p" and answers[2]["properties"]["acc"]["double_value"] == 0.5
    assert _ok(api.get(path)) == answers[2]


def _trainer(api: httpx.Client) -> str:
    return _ok(api.post("/api/v1/execution_types", json={"name": "Trainer"}))["id"]


def test_a_failed_update_changes_nothing_and_names_the_missing_node(counted):
    api, _ = counted
    type_id = _ok(api.post("/api/v1/artifact_types", json={"name": "Model"}))["id"]
    artifact = _ok(api.post("/api/v1/artifacts", json={"type_id": type_id, "uri": "/m"}), 201)
    assert _not_found(api.patch("/api/v1/artifacts/999999", json={"uri": "/x"})) == "no artifact with id 999999"
    bad_mask = api.patch(f"/api/v1/artifacts/{artifact['id']}", params={"update_mask": "uri,bogus"}, json={"uri": "/x"})
    assert bad_mask.status_code == 400, bad_mask.text
    assert _ok(api.get(f"/api/v1/artifacts/{artifact['id']}"))["uri"] == "/m"


def test_events_of_a_missing_node_are_not_found_as_a_get_of_it_is(counted):
    api, _ = counted
    model = _ok(api.post("/api/v1/artifact_types", json={"name": "Model"}))["id"]
    artifact = _ok(api.post("/api/v1/artifacts", json={"type_id": model}), 201)["id"]
    execution = _ok(api.post("/api/v1/executions", json={"type_id": _trainer(api)}), 201)["id"]
    # Nodes with no events: an empty list.
    assert _ok(api.get("/api/v1/events", params={"artifact_id": [artifact]})) == {"events": []}
    assert _ok(api.get(f"/api/v1/artifacts/{artifact}/events")) == {"events": []}
    # A missing node: NOT_FOUND in the words of a get of it (the old answer was an empty list).
    get_message = _not_found(api.get("/api/v1/artifacts/999999"))
    assert _not_found(api.get("/api/v1/events", params={"artifact_id": [999999]})) == get_message
    assert _not_found(api.get("/api/v1/artifacts/999999/events")) == get_message
    assert _not_found(api.get("/api/v1/events", params={"execution_id": [execution, 999998, 999999]})) == (
        "no executions with ids 999998, 999999"
    )
    _ok(api.post("/api/v1/events", json={"artifact_id": artifact, "execution_id": execution, "type": "INPUT"}), 201)
    assert len(_ok(api.get("/api/v1/events", params={"execution_id": [execution]}))["events"]) == 1
    assert _not_found(api.get("/api/v1/events", params={"artifact_id": [artifact, 999999]})) == get_message


def test_neighbours_are_read_first_and_a_missing_node_is_not_found(counted):
    api, checkouts = counted
    pipeline = _ok(api.post("/api/v1/context_types", json={"name": "Pipeline"}))["id"]
    model = _ok(api.post("/api/v1/artifact_types", json={"name": "Model"}))["id"]
    parent = _ok(api.post("/api/v1/contexts", json={"type_id": pipeline, "name": "parent"}), 201)["id"]
    child = _ok(api.post("/api/v1/contexts", json={"type_id": pipeline, "name": "child"}), 201)["id"]
    artifact = _ok(api.post("/api/v1/artifacts", json={"type_id": model}), 201)["id"]
    _ok(api.post("/api/v1/parent_contexts", json={"child_id": child, "parent_id": parent}), 201)
    _ok(api.post("/api/v1/attributions", json={"artifact_id": artifact, "context_id": child}), 201)
    found: list[dict] = []
    for path in (f"/api/v1/contexts/{child}/parents", f"/api/v1/artifacts/{artifact}/contexts",
                 f"/api/v1/contexts/{child}/artifacts"):
        # A node with neighbours: one read (the old adapter looked the node up first, in a read of its own).
        assert checkouts.during(lambda path=path: found.append(_ok(api.get(path)))) == 1, path
    assert [c["name"] for c in found[0]["contexts"]] == ["parent"]
    assert [c["name"] for c in found[1]["contexts"]] == ["child"]
    assert [a["id"] for a in found[2]["artifacts"]] == [str(artifact)]
    # None: an empty list; a missing node: NOT_FOUND.
    assert _ok(api.get(f"/api/v1/contexts/{parent}/parents")) == {"contexts": []}
    assert _ok(api.get(f"/api/v1/contexts/{parent}/executions")) == {"executions": [], "next_page_token": ""}
    for path in ("/api/v1/contexts/999999/parents", "/api/v1/contexts/999999/children",
                 "/api/v1/contexts/999999/executions"):
        assert _not_found(api.get(path)) == "no context with id 999999", path
    assert _not_found(api.get("/api/v1/executions/999999/contexts")) == "no execution with id 999999"


def test_the_openapi_document_lists_every_route_of_every_kind(counted):
    api, _ = counted
    paths = _ok(api.get("/openapi.json"))["paths"]
    listed = {(path, method) for path, item in paths.items() for method in item}
    expected = {("/api/v1/executions:put", "post"), ("/api/v1/lineage_subgraph:put", "post")}
    for plural in ("artifacts", "executions", "contexts"):
        base = f"/api/v1/{plural}"
        expected |= {(base, "post"), (base, "get"), (f"{base}:batchPut", "post")}
        expected |= {(f"{base}/{{id}}", method) for method in ("get", "put", "patch")}
    for plural in ("artifacts", "executions"):
        expected |= {(f"/api/v1/{plural}/{{id}}/contexts", "get"), (f"/api/v1/{plural}/{{id}}/events", "get"),
                     (f"/api/v1/contexts/{{id}}/{plural}", "get")}
    expected |= {("/api/v1/contexts/{id}/parents", "get"), ("/api/v1/contexts/{id}/children", "get")}
    assert expected <= listed, sorted(expected - listed)
    occ = {p["name"] for p in paths["/api/v1/artifacts/{id}"]["patch"]["parameters"]}
    assert "abort_if_latest_updated_time_changed" in occ
    assert "abort_if_latest_updated_time_changed" not in {
        p["name"] for p in paths["/api/v1/executions/{id}"]["patch"]["parameters"]
    }
