"""OpenLineage in and out over HTTP, on SQLite and PostgreSQL, with the real openlineage-python client.

Exported events are checked with the client's own model classes (its attrs validators for
eventTime, producer, schemaURL and runId, and its serializer): the OpenLineage JSON Schema
file itself ships in no PyPI package this project can install.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from rest_server import http_client

START, COMPLETE = "2024-05-01T12:00:00Z", "2024-05-01T12:10:00Z"
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.0.0/client/python"


@pytest.fixture
def api(store) -> httpx.Client:
    with http_client(store) as client:
        yield client


def facet(**fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/X.json", **fields}


def run_event(event_type: str | None, when: str, run_id: str, **extra: Any) -> dict[str, Any]:
    event = {
        "eventTime": when,
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id, "facets": extra.pop("run_facets", {})},
        "job": {"namespace": "ml", "name": "train", "facets": extra.pop("job_facets", {})},
        "inputs": extra.pop("inputs", [{"namespace": "s3://data", "name": "train.parquet"}]),
        "outputs": extra.pop("outputs", [{"namespace": "s3://models", "name": "churn/42"}]),
        **extra,
    }
    if event_type is not None:
        event["eventType"] = event_type
    return event


def post(api: httpx.Client, event: dict[str, Any], status: int = 201) -> dict[str, Any]:
    response = api.post("/api/v1/lineage", json=event)
    assert response.status_code == status, response.text
    return response.json()


def execution_of(api: httpx.Client, run_id: str) -> dict[str, Any]:
    found = api.get("/api/v1/executions", params={"filter": f"external_id = '{run_id}'"}).json()["executions"]
    assert len(found) == 1, found
    return found[0]


def test_a_run_becomes_an_execution_with_its_job_datasets_and_facets(api):
    run_id = str(uuid.uuid4())
    start = run_event(
        "START", START, run_id,
        run_facets={"nominalTime": facet(nominalStartTime=START)},
        job_facets={"jobType": facet(processingType="BATCH", integration="SPARK", jobType="JOB")},
        inputs=[{"namespace": "s3://data", "name": "train.parquet",
                 "facets": {"schema": facet(fields=[{"name": "x", "type": "int"}])},
                 "inputFacets": {"dataQualityMetrics": facet(rowCount=100)}}],
    )  # fmt: skip
    answer = post(api, start)
    assert len(answer["artifact_ids"]) == 2 and len(answer["context_ids"]) == 1
    execution = execution_of(api, run_id)
    assert execution["type"] == "openlineage.Run" and execution["last_known_state"] == "RUNNING"
    assert execution["properties"]["start_time"] == {"string_value": "2024-05-01T12:00:00.000Z"}
    assert execution["custom_properties"]["facet.nominalTime"]["struct_value"]["nominalStartTime"] == START
    input_facets = execution["custom_properties"]["input_facets"]["struct_value"]
    assert input_facets["s3://data/train.parquet"]["dataQualityMetrics"]["rowCount"] == 100

    post(api, run_event("COMPLETE", COMPLETE, run_id))
    execution = execution_of(api, run_id)
    assert execution["last_known_state"] == "COMPLETE" and execution["id"] == answer["execution_id"]
    assert execution["properties"]["end_time"] == {"string_value": "2024-05-01T12:10:00.000Z"}
    assert "facet.nominalTime" in execution["custom_properties"]  # metadata is additive

    events = api.get(f"/api/v1/executions/{execution['id']}/events").json()["events"]
    assert sorted(e["type"] for e in events) == ["INPUT", "OUTPUT"]  # not duplicated by the second event
    artifacts = {a["external_id"]: a for a in api.get("/api/v1/artifacts", params={"type_name": "openlineage.Dataset"}).json()["artifacts"]}
    assert set(artifacts) == {"s3://data/train.parquet", "s3://models/churn/42"}
    data = artifacts["s3://data/train.parquet"]
    assert data["properties"] == {"namespace": {"string_value": "s3://data"}, "name": {"string_value": "train.parquet"}}
    assert data["custom_properties"]["facet.schema"]["struct_value"]["fields"] == [{"name": "x", "type": "int"}]
    [job] = api.get(f"/api/v1/executions/{execution['id']}/contexts").json()["contexts"]
    assert job["type"] == "openlineage.Job" and job["name"] == "ml/train"
    assert job["custom_properties"]["facet.jobType"]["struct_value"]["integration"] == "SPARK"
    members = api.get(f"/api/v1/contexts/{job['id']}/artifacts").json()["artifacts"]
    assert {a["external_id"] for a in members} == set(artifacts)


@pytest.mark.parametrize(
    ("sequence", "state"),
    [
        ([("COMPLETE", COMPLETE), ("START", START)], "COMPLETE"),
        ([("START", START), ("COMPLETE", COMPLETE), ("RUNNING", "2024-05-01T12:05:00Z")], "COMPLETE"),
        ([("START", START), ("START", START), ("RUNNING", "2024-05-01T12:01:00Z")], "RUNNING"),
        ([("START", START), ("FAIL", COMPLETE)], "FAILED"),
        ([("ABORT", COMPLETE), ("START", START)], "CANCELED"),
        ([("FAIL", "2024-05-01T12:20:00Z"), ("COMPLETE", COMPLETE)], "FAILED"),  # the later terminal event wins
        ([("COMPLETE", COMPLETE), ("FAIL", "2024-05-01T12:20:00Z")], "FAILED"),
        ([("OTHER", START)], "NEW"),
        ([(None, START), ("START", START)], "RUNNING"),
    ],
)
def test_repeated_and_out_of_order_events_update_one_execution(api, sequence, state):
    run_id = str(uuid.uuid4())
    ids = {post(api, run_event(event_type, when, run_id))["execution_id"] for event_type, when in sequence}
    assert len(ids) == 1
    execution = execution_of(api, run_id)
    assert execution["last_known_state"] == state
    received = api.get("/api/v1/openlineage/received", params={"run_id": run_id}).json()["events"]
    assert [e.get("eventType") for e in received] == [event_type for event_type, _ in sequence]


def test_raw_events_are_kept_and_paged(api):
    run_id = str(uuid.uuid4())
    sent = [run_event(t, when, run_id) for t, when in (("START", START), ("RUNNING", START), ("COMPLETE", COMPLETE))]
    for event in sent:
        post(api, event)
    first = api.get("/api/v1/openlineage/received", params={"run_id": run_id, "page_size": 2}).json()
    assert first["events"] == sent[:2] and first["next_page_token"]
    rest = api.get("/api/v1/openlineage/received", params={"run_id": run_id, "page_size": 2, "page_token": first["next_page_token"]}).json()
    assert rest == {"events": sent[2:], "next_page_token": ""}
    assert api.get("/api/v1/openlineage/received", params={"page_token": "nope"}).status_code == 400


def test_a_received_events_token_is_bound_to_its_run_and_in_the_shared_format(api):
    """One page-token format (metadata/page_tokens): a token of one run's events is refused for another run."""
    from mlineage.metadata import page_tokens

    run_a, run_b = str(uuid.uuid4()), str(uuid.uuid4())
    for run_id in (run_a, run_a, run_b):
        post(api, run_event("START", START, run_id))
    first = api.get("/api/v1/openlineage/received", params={"run_id": run_a, "page_size": 1}).json()
    token = first["next_page_token"]
    assert page_tokens.decode(token, page_tokens.fingerprint("openlineage_events", "default", run_a),
                              lambda body: body["i"]) > 0
    other = api.get("/api/v1/openlineage/received", params={"run_id": run_b, "page_token": token})
    assert other.status_code == 400 and "another run_id" in other.text
    same = api.get("/api/v1/openlineage/received", params={"run_id": run_a, "page_token": token}).json()
    assert len(same["events"]) == 1 and same["next_page_token"] == ""


def test_parent_run_facet_links_the_jobs(api):
    run_id = str(uuid.uuid4())
    parent = facet(run={"runId": str(uuid.uuid4())}, job={"namespace": "ml", "name": "pipeline"})
    post(api, run_event("START", START, run_id, run_facets={"parent": parent}))
    [job] = api.get("/api/v1/contexts", params={"filter": "name = 'ml/train'"}).json()["contexts"]
    parents = api.get(f"/api/v1/contexts/{job['id']}/parents").json()["contexts"]
    assert [p["name"] for p in parents] == ["ml/pipeline"]
    post(api, run_event("COMPLETE", COMPLETE, run_id, run_facets={"parent": parent}))  # linked once
    assert len(api.get(f"/api/v1/contexts/{job['id']}/parents").json()["contexts"]) == 1


def test_job_and_dataset_events(api):
    job_event = {
        "eventTime": START, "producer": PRODUCER, "job": {"namespace": "ml", "name": "static"},
        "inputs": [{"namespace": "pg://db", "name": "public.users"}], "outputs": [],
    }  # fmt: skip
    answer = post(api, job_event)
    assert "execution_id" not in answer and len(answer["context_ids"]) == 1
    members = api.get(f"/api/v1/contexts/{answer['context_ids'][0]}/artifacts").json()["artifacts"]
    assert [a["external_id"] for a in members] == ["pg://db/public.users"]
    dataset_event = {
        "eventTime": START, "producer": PRODUCER,
        "dataset": {"namespace": "pg://db", "name": "public.users", "facets": {"documentation": facet(description="users")}},
    }  # fmt: skip
    post(api, dataset_event)
    [artifact] = api.get("/api/v1/artifacts", params={"filter": "external_id = 'pg://db/public.users'"}).json()["artifacts"]
    assert artifact["custom_properties"]["facet.documentation"]["struct_value"]["description"] == "users"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.pop("eventTime"),
        lambda e: e.update(eventTime="yesterday"),
        lambda e: e.update(eventTime="2024-05-01"),
        lambda e: e.pop("producer"),
        lambda e: e.update(eventType="DONE"),
        lambda e: e["run"].update(runId="not-a-uuid"),
        lambda e: e["run"].pop("runId"),
        lambda e: e.update(run="r"),
        lambda e: e.pop("job"),
        lambda e: e["job"].update(name=""),
        lambda e: e["job"].update(namespace=7),
        lambda e: e["run"].update(facets=[1]),
        lambda e: e["run"].update(facets={"x": "not an object"}),
        lambda e: e.update(inputs={"namespace": "a"}),
        lambda e: e.update(inputs=[{"namespace": "a"}]),
        lambda e: e.update(outputs=[{"namespace": "a", "name": "b", "outputFacets": {"s": 1}}]),
        lambda e: e["job"].update(name="nul\u0000"),
        lambda e: (e.pop("run"), e.pop("job")),
    ],
)
def test_invalid_events_are_refused_before_anything_is_written(api, mutate):
    event = run_event("START", START, str(uuid.uuid4()))
    mutate(event)
    response = api.post("/api/v1/lineage", json=event)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "INVALID_ARGUMENT"
    assert api.get("/api/v1/openlineage/received").json()["events"] == []
    assert api.get("/api/v1/executions").json()["executions"] == []
    assert api.post("/api/v1/lineage", content=b"[]").status_code == 400


# --- the real client in, the client's models out -------------------------------------------------


def emit_with_openlineage_client(base_url: str, run_id: str) -> None:
    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import schema_dataset
    from openlineage.client.transport.http import HttpConfig, HttpTransport

    client = OpenLineageClient(transport=HttpTransport(HttpConfig(url=base_url)))
    schema = schema_dataset.SchemaDatasetFacet(fields=[schema_dataset.SchemaDatasetFacetFields(name="x", type="int")])
    inputs = [InputDataset(namespace="s3://data", name="features.parquet", facets={"schema": schema})]
    outputs = [OutputDataset(namespace="s3://models", name="churn/7")]
    job = Job(namespace="ml", name="churn.train")
    for state, when in ((RunState.START, START), (RunState.COMPLETE, COMPLETE)):
        client.emit(
            RunEvent(eventType=state, eventTime=when, run=Run(runId=run_id), job=job, producer=PRODUCER,
                     inputs=inputs, outputs=outputs)
        )  # fmt: skip
    client.close()


def validate_with_client_models(event: dict[str, Any]) -> dict[str, Any]:
    """Build the event from openlineage-python's classes (their validators run) and serialize it back."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.serde import Serde

    for facets in [event["run"]["facets"], event["job"]["facets"]] + [
        d.get(key, {}) for d in event["inputs"] + event["outputs"] for key in ("facets", "inputFacets", "outputFacets")
    ]:
        for name, body in facets.items():
            assert isinstance(body.get("_producer"), str) and isinstance(body.get("_schemaURL"), str), name
    model = RunEvent(
        eventType=RunState(event["eventType"]),
        eventTime=event["eventTime"],
        producer=event["producer"],
        run=Run(runId=event["run"]["runId"], facets=event["run"]["facets"]),
        job=Job(namespace=event["job"]["namespace"], name=event["job"]["name"], facets=event["job"]["facets"]),
        inputs=[InputDataset(namespace=d["namespace"], name=d["name"], facets=d["facets"],
                             inputFacets=d.get("inputFacets", {})) for d in event["inputs"]],
        outputs=[OutputDataset(namespace=d["namespace"], name=d["name"], facets=d["facets"],
                               outputFacets=d.get("outputFacets", {})) for d in event["outputs"]],
    )  # fmt: skip
    assert model.schemaURL == event["schemaURL"]
    return Serde.to_dict(model)


def _without_empty(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_empty(v) for k, v in value.items() if v not in ({}, [], None)}
    if isinstance(value, list):
        return [_without_empty(v) for v in value]
    return value


def test_openlineage_client_emits_and_the_lineage_endpoint_returns_the_graph(api):
    run_id = str(uuid.uuid4())
    emit_with_openlineage_client(str(api.base_url), run_id)
    execution = execution_of(api, run_id)
    assert execution["last_known_state"] == "COMPLETE"
    graph = api.get(
        "/api/v1/lineage_subgraph", params={"starting_executions": f"external_id = '{run_id}'", "max_num_hops": 1}
    ).json()
    assert [e["external_id"] for e in graph["executions"]] == [run_id]
    assert {a["external_id"] for a in graph["artifacts"]} == {"s3://data/features.parquet", "s3://models/churn/7"}
    by_id = {a["id"]: a["external_id"] for a in graph["artifacts"]}
    assert sorted((by_id[e["artifact_id"]], e["type"]) for e in graph["events"]) == [
        ("s3://data/features.parquet", "INPUT"),
        ("s3://models/churn/7", "OUTPUT"),
    ]
    assert [c["name"] for c in graph["contexts"]] == ["ml/churn.train"]
    downstream = api.get(
        "/api/v1/lineage_subgraph",
        params={"starting_artifacts": "external_id = 's3://data/features.parquet'", "direction": "DOWNSTREAM"},
    ).json()
    assert {a["external_id"] for a in downstream["artifacts"]} == {"s3://data/features.parquet", "s3://models/churn/7"}

    exported = api.get(f"/api/v1/executions/{execution['id']}/openlineage").json()["events"]
    assert [e["eventType"] for e in exported] == ["START", "COMPLETE"]
    assert [e["eventTime"] for e in exported] == ["2024-05-01T12:00:00.000Z", "2024-05-01T12:10:00.000Z"]
    for event in exported:
        assert _without_empty(validate_with_client_models(event)) == _without_empty(event)
        assert event["run"]["runId"] == run_id and event["job"] == {"namespace": "ml", "name": "churn.train", "facets": {}}
        assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [("s3://data", "features.parquet")]
        assert [(d["namespace"], d["name"]) for d in event["outputs"]] == [("s3://models", "churn/7")]
        [column] = event["inputs"][0]["facets"]["schema"]["fields"]
        assert (column["name"], column["type"]) == ("x", "int")


def test_mlmd_nodes_export_as_valid_events_and_round_trip(api, tmp_path, sqlite_template):
    types = {
        kind: api.post(f"/api/v1/{kind}_types", json={"name": name}).json()["id"]
        for kind, name in (("artifact", "Examples"), ("execution", "Trainer"), ("context", "Pipeline"))
    }
    body = {
        "execution": {"type_id": types["execution"], "last_known_state": "FAILED", "custom_properties": {"lr": {"double_value": 0.1}}},
        "artifact_event_pairs": [
            {"artifact": {"type_id": types["artifact"], "uri": "gs://bucket/examples/1"}, "event": {"type": "INPUT"}},
            {"artifact": {"type_id": types["artifact"], "uri": "/local/model"}, "event": {"type": "OUTPUT"}},
            {"artifact": {"type_id": types["artifact"], "name": "no-uri"}, "event": {"type": "DECLARED_OUTPUT"}},
        ],
        "contexts": [{"type_id": types["context"], "name": "churn"}],
    }
    execution_id = api.post("/api/v1/executions:put", json=body).json()["execution_id"]
    api.post("/api/v1/executions", json={"type_id": types["execution"], "last_known_state": "RUNNING"})
    exported = api.get(f"/api/v1/executions/{execution_id}/openlineage").json()["events"]
    assert [e["eventType"] for e in exported] == ["START", "FAIL"]
    event = exported[1]
    validate_with_client_models(event)
    uuid.UUID(event["run"]["runId"])
    assert event["job"]["name"] == "churn.Trainer" and event["job"]["namespace"] == "mlineage"
    assert event["run"]["facets"]["mlineage_execution"]["custom_properties"] == {"lr": 0.1}
    assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [("gs://bucket", "/examples/1")]
    assert [(d["namespace"], d["name"]) for d in event["outputs"]] == [("file", "/local/model"), ("mlineage", "Examples/no-uri")]

    page = api.get("/api/v1/openlineage/events", params={"page_size": 1}).json()
    assert [e["eventType"] for e in page["events"]] == ["START", "FAIL"] and page["next_page_token"]
    rest = api.get("/api/v1/openlineage/events", params={"page_size": 1, "page_token": page["next_page_token"]}).json()
    assert [e["eventType"] for e in rest["events"]] == ["START"] and rest["next_page_token"] == ""
    failed = api.get("/api/v1/openlineage/events", params={"filter": "last_known_state = FAILED"}).json()["events"]
    assert failed == exported
    for event in rest["events"]:
        validate_with_client_models(event)

    # A consumer of our events is another OpenLineage backend: feed them to a fresh mlineage.
    import shutil

    import mlineage

    path = tmp_path / "other.db"
    shutil.copy(sqlite_template, path)
    other = mlineage.connect(f"sqlite:///{path}")
    try:
        with http_client(other) as second:
            for event in exported:
                post(second, event)
            copy = execution_of(second, event["run"]["runId"])
            assert copy["last_known_state"] == "FAILED"
            events = second.get(f"/api/v1/executions/{copy['id']}/events").json()["events"]
            assert sorted(e["type"] for e in events) == ["INPUT", "OUTPUT", "OUTPUT"]
    finally:
        other.close()
    assert api.get("/api/v1/executions/999999/openlineage").status_code == 404


def test_concurrent_events_of_one_run_make_one_execution(api):
    import concurrent.futures
    import random

    run_id = str(uuid.uuid4())
    sequence = [("START", START)] * 3 + [("RUNNING", "2024-05-01T12:05:00Z")] * 3 + [("COMPLETE", COMPLETE)] * 2
    random.Random(7).shuffle(sequence)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda item: api.post("/api/v1/lineage", json=run_event(item[0], item[1], run_id)), sequence))
    assert [a.status_code for a in answers] == [201] * len(sequence), [a.text for a in answers if a.status_code != 201]
    assert len({a.json()["execution_id"] for a in answers}) == 1
    execution = execution_of(api, run_id)
    assert execution["last_known_state"] == "COMPLETE"
    events = api.get(f"/api/v1/executions/{execution['id']}/events").json()["events"]
    assert sorted(e["type"] for e in events) == ["INPUT", "OUTPUT"]
    assert len(api.get("/api/v1/artifacts", params={"type_name": "openlineage.Dataset"}).json()["artifacts"]) == 2


def test_events_through_two_servers_lose_no_facet(store, store_url):
    """Events of one run, writing the same dataset, through two server processes at once: each event
    merges its facets onto the run and the dataset as the other server left them (none read stale,
    none lost). The second server is a process of its own, as a replica is: no lock of this one's."""
    import concurrent.futures

    from client_server import Server, free_port

    run_id = str(uuid.uuid4())
    per_server = 12
    with Server(store_url, http_port=free_port(), create=False) as replica, \
            httpx.Client(base_url=f"http://127.0.0.1:{replica.http_port}", timeout=30) as second, \
            http_client(store) as first:
        clients = (first, second)

        def send(item: tuple[int, int]) -> int:
            server, i = item
            event = run_event(
                "RUNNING", "2024-05-01T12:05:00Z", run_id,
                run_facets={f"f{server}_{i}": facet(n=i)},
                outputs=[{"namespace": "s3://models", "name": "shared", "facets": {f"d{server}_{i}": facet(n=i)}}],
            )
            return clients[server].post("/api/v1/lineage", json=event).status_code

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            codes = list(pool.map(send, [(s, i) for i in range(per_server) for s in (0, 1)]))
    assert codes == [201] * (2 * per_server)
    [execution] = store.get_executions_by_external_ids([run_id])
    wanted = {f"{s}_{i}" for s in (0, 1) for i in range(per_server)}
    assert {k[len("facet.f"):] for k in execution.custom_properties if k.startswith("facet.f")} == wanted
    [dataset] = store.get_artifacts_by_external_ids(["s3://models/shared"])
    assert {k[len("facet.d"):] for k in dataset.custom_properties if k.startswith("facet.d")} == wanted
