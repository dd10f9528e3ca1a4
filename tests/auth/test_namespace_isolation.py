"""Namespace isolation: a caller of namespace A never sees namespace B's types, nodes, events, links, lineage,
history, metric series or OpenLineage events, through any route of the OpenAPI document or any read RPC.

B's records are made through the server with B's writer token; then every GET
operation of the OpenAPI document is called with A's token and B's ids (path
parameters and the query parameters that name records): none answers a 5xx, a
route that names one of B's records answers 404, and no answer holds any of B's
distinctive strings. With B's token (and with an admin naming B's namespace)
the same by-id routes do answer them, so the check can fail.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import httpx
import pytest
from conftest import postgres_database, serving_with_tokens

from mlineage import errors
from mlineage.client.grpc_store import GrpcStore
from mlineage.metadata.engine import normalize_url
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metric_series_pb2 as mpb

SECRET = "bsecret"  # in every name, uri and value of B's records
# What B's records hold that no request of A's sends (an error may echo a name A asked for).
LEAKS = (f"/{SECRET}/data", f"{SECRET}-a", f"{SECRET}-e", f"{SECRET}-c", f"{SECRET}-p", f"{SECRET}-job",
         f"{SECRET}-out")  # fmt: skip


@dataclass
class BRecords:
    type_id: int
    execution_type_id: int
    context_type_id: int
    artifact: int
    execution: int
    context: int
    parent: int
    run_id: str


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def auth_server(request, tmp_path_factory):
    """The isolation checks run on SQLite and on PostgreSQL (whose lineage walk is one SQL statement)."""
    if request.param == "sqlite":
        db_url = f"sqlite:///{tmp_path_factory.mktemp('isolation') / 'mlineage.db'}"
    else:
        db_url = normalize_url(postgres_database("mlineage_isolation"))
    with serving_with_tokens(db_url) as served:
        yield served


@pytest.fixture(scope="module")
def b_records(auth_server) -> BRecords:
    target = f"grpc://{auth_server.server.target}"
    with GrpcStore(target, token=auth_server.tokens.other_writer, retries=0) as b:
        type_id = b.put_artifact_type(pb.ArtifactType(name=f"{SECRET}Data", properties={"span": pb.INT}))
        execution_type_id = b.put_execution_type(pb.ExecutionType(name=f"{SECRET}Trainer"))
        context_type_id = b.put_context_type(pb.ContextType(name=f"{SECRET}Run"))
        [artifact] = b.put_artifacts([pb.Artifact(type_id=type_id, uri=f"/{SECRET}/data", name=f"{SECRET}-a")])
        [execution] = b.put_executions([pb.Execution(type_id=execution_type_id, name=f"{SECRET}-e")])
        b.put_events([pb.Event(artifact_id=artifact, execution_id=execution, type=pb.Event.OUTPUT)])
        # Updated once, so that it has two revisions (history and its diff).
        b.put_artifacts([pb.Artifact(id=artifact, type_id=type_id, uri=f"/{SECRET}/data2", name=f"{SECRET}-a")])
        context, parent = b.put_contexts([pb.Context(type_id=context_type_id, name=f"{SECRET}-c"),
                                          pb.Context(type_id=context_type_id, name=f"{SECRET}-p")])  # fmt: skip
        b.put_attributions_and_associations(
            [pb.Attribution(artifact_id=artifact, context_id=context)],
            [pb.Association(execution_id=execution, context_id=context)],
        )
        b.put_parent_contexts([pb.ParentContext(child_id=context, parent_id=parent)])
        b.put_metric_series([mpb.MetricSeries(execution_id=execution, name=f"{SECRET}_loss", seq=[1], value=[0.5])])
    run_id = str(uuid.uuid4())
    event = {
        "eventType": "COMPLETE", "eventTime": "2026-01-01T00:00:00Z", "run": {"runId": run_id},
        "job": {"namespace": f"{SECRET}-jobs", "name": f"{SECRET}-job"}, "producer": "https://example.com/b",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent",
        "inputs": [], "outputs": [{"namespace": f"{SECRET}-ds", "name": f"{SECRET}-out"}],
    }  # fmt: skip
    posted = httpx.post(auth_server.base_url + "/api/v1/lineage", json=event,
                        headers={"Authorization": f"Bearer {auth_server.tokens.other_writer}"})  # fmt: skip
    assert posted.status_code < 300, posted.text
    return BRecords(type_id, execution_type_id, context_type_id, artifact, execution, context, parent, run_id)


def _operations(auth_server) -> list[str]:
    document = httpx.get(auth_server.base_url + "/openapi.json").json()
    return [path for path, item in document["paths"].items() if "get" in item and path.startswith("/api/")]


def _url(path: str, b: BRecords) -> tuple[str, dict[str, str], bool]:
    """The route with B's ids, the query naming B's records, and whether it names one of B's records."""
    kind = path.split("/")[3]
    ids = {"artifact_types": b.type_id, "execution_types": b.execution_type_id, "context_types": b.context_type_id,
           "artifacts": b.artifact, "executions": b.execution, "contexts": b.context}  # fmt: skip
    values = {"type_id": ids.get(kind, b.type_id), "id": ids.get(kind, b.artifact), "execution_id": b.execution,
              "name": f"{SECRET}_loss"}  # fmt: skip
    url = re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)
    query: dict[str, str] = {}
    if path.endswith("/by-name"):
        query["name"] = {"artifact_types": f"{SECRET}Data", "execution_types": f"{SECRET}Trainer",
                         "context_types": f"{SECRET}Run"}[kind]  # fmt: skip
    elif path.endswith("/history/diff"):
        query.update({"from": "1", "to": "2"})
    elif path == "/api/v1/events":
        query["artifact_id"] = str(b.artifact)
    elif path == "/api/v1/lineage":
        query["artifact_id"] = str(b.artifact)
    elif path == "/api/v1/lineage_subgraph":
        query["starting_artifacts"] = f"id = {b.artifact}"
    elif path == "/api/v1/openlineage/received":
        query["run_id"] = b.run_id
    elif path == "/api/v1/compare":
        query["runs"] = str(b.context)
    names_one = "{" in path or path.endswith("/by-name") or path in ("/api/v1/lineage",)
    return url, query, names_one


def test_every_get_route_hides_another_namespaces_records(auth_server, b_records):
    a_reader = {"Authorization": f"Bearer {auth_server.tokens.reader}"}  # namespace default
    checked = 0
    for path in _operations(auth_server):
        url, query, names_one = _url(path, b_records)
        response = httpx.get(auth_server.base_url + url, params=query, headers=a_reader, timeout=30)
        assert response.status_code < 500, (path, response.status_code, response.text)
        leaked = [leak for leak in LEAKS if leak.lower() in response.text.lower()]
        assert leaked == [], (path, response.text[:500])
        if names_one and path != "/api/v1/executions/{execution_id}/metrics":
            assert response.status_code in (400, 404), (path, response.status_code, response.text[:300])
        checked += 1
    assert checked > 30


@pytest.mark.parametrize(
    "path",
    ["/api/v1/artifacts/{artifact}", "/api/v1/artifacts/{artifact}/history", "/api/v1/contexts/{context}/parents",
     "/api/v1/executions/{execution}/metrics/bsecret_loss", "/api/v1/artifact_types/{type_id}"],
)
def test_the_owner_and_an_admin_naming_the_namespace_see_them(auth_server, b_records, path):
    url = auth_server.base_url + path.format(**vars(b_records))
    as_owner = httpx.get(url, headers={"Authorization": f"Bearer {auth_server.tokens.other_writer}"})
    assert as_owner.status_code == 200 and SECRET in as_owner.text.lower(), as_owner.text[:300]
    as_admin = httpx.get(url, headers={"Authorization": f"Bearer {auth_server.tokens.admin}",
                                       "X-Mlineage-Namespace": "team-b"})  # fmt: skip
    assert as_admin.status_code == 200 and SECRET in as_admin.text.lower()
    assert httpx.get(url, headers={"Authorization": f"Bearer {auth_server.tokens.admin}"}).status_code == 404


def test_rpcs_with_another_namespaces_ids_find_nothing(auth_server, b_records):
    b = b_records
    with GrpcStore(f"grpc://{auth_server.server.target}", token=auth_server.tokens.writer, retries=0) as a:
        for call in (
            lambda: a.get_artifacts_by_id([b.artifact]),
            lambda: a.get_executions_by_id([b.execution]),
            lambda: a.get_contexts_by_id([b.context, b.parent]),
            lambda: a.get_artifact_types_by_id([b.type_id]),
            lambda: a.get_events_by_artifact_ids([b.artifact]),
            lambda: a.get_events_by_execution_ids([b.execution]),
            lambda: a.get_contexts_by_artifact(b.artifact),
            lambda: a.get_contexts_by_execution(b.execution),
            lambda: a.get_artifacts_by_context(b.context),
            lambda: a.get_executions_by_context(b.context),
            lambda: a.get_parent_contexts_by_context(b.context),
            lambda: a.get_children_contexts_by_context(b.parent),
            lambda: a.get_metric_series([b.execution]),
        ):
            assert _nothing(call)
        assert not any(SECRET in t.name.lower() for t in a.get_artifact_types())
        assert not any(SECRET in (x.uri or "") for x in a.get_artifacts())
        with pytest.raises(errors.NotFoundError):
            a.get_artifact_type(f"{SECRET}Data")
        with pytest.raises(errors.MlineageError):  # MLMD answers an unknown node id this way too
            a.get_artifact_history(b.artifact)
        options = pb.LineageSubgraphQueryOptions(max_num_hops=3)
        options.starting_artifacts.filter_query = f"id = {b.artifact}"
        with pytest.raises(errors.NotFoundError, match="starting nodes|start the traversal"):
            a.get_lineage_subgraph(options)  # as MLMD answers a query whose starting nodes match nothing
        # Writes naming B's records are refused and change nothing.
        with pytest.raises(errors.MlineageError):
            a.put_artifacts([pb.Artifact(id=b.artifact, type_id=b.type_id, uri="/overwritten")])
        with pytest.raises(errors.MlineageError):
            a.put_events([pb.Event(artifact_id=b.artifact, execution_id=b.execution, type=pb.Event.INPUT)])
        with pytest.raises(errors.MlineageError):
            a.put_attributions_and_associations([pb.Attribution(artifact_id=b.artifact, context_id=b.context)], [])
    with GrpcStore(f"grpc://{auth_server.server.target}", token=auth_server.tokens.other_writer, retries=0) as owner:
        [artifact] = owner.get_artifacts_by_id([b.artifact])
        assert artifact.uri == f"/{SECRET}/data2"
        assert len(owner.get_events_by_artifact_ids([b.artifact])) == 1


def _nothing(call) -> bool:
    """An empty answer, or the NOT_FOUND MLMD gives for a node with nothing related."""
    try:
        return not call()
    except errors.NotFoundError:
        return True


def test_names_are_unique_per_namespace(auth_server, b_records):
    with GrpcStore(f"grpc://{auth_server.server.target}", token=auth_server.tokens.writer, retries=0) as a:
        type_id = a.put_artifact_type(pb.ArtifactType(name=f"{SECRET}Data", properties={"span": pb.INT}))
        assert type_id != b_records.type_id
        [mine] = a.put_artifacts([pb.Artifact(type_id=type_id, uri="/a/own", name=f"{SECRET}-a")])
        assert mine != b_records.artifact


def _write_operations(auth_server) -> list[tuple[str, str]]:
    document = httpx.get(auth_server.base_url + "/openapi.json").json()
    return [(method, path) for path, item in document["paths"].items() for method in item
            if method in ("put", "patch", "post", "delete") and path.startswith("/api/v1/")]  # fmt: skip


def _b_snapshot(auth_server, b: BRecords) -> dict[str, str]:
    owner = {"Authorization": f"Bearer {auth_server.tokens.other_writer}"}
    paths = [f"/api/v1/artifacts/{b.artifact}", f"/api/v1/executions/{b.execution}", f"/api/v1/contexts/{b.context}",
             f"/api/v1/contexts/{b.parent}", f"/api/v1/events?artifact_id={b.artifact}",
             f"/api/v1/contexts/{b.context}/parents", f"/api/v1/artifacts/{b.artifact}/history"]  # fmt: skip
    seen = {}
    for path in paths:
        response = httpx.get(auth_server.base_url + path, headers=owner, timeout=30)
        assert response.status_code == 200, (path, response.text[:300])
        seen[path] = response.text
    return seen


def test_every_write_route_naming_another_namespaces_records_is_refused_and_changes_nothing(auth_server, b_records):
    """Each PUT/PATCH/POST/DELETE of the OpenAPI document, sent by A with a body that names B's records
    (the record as B reads it, or links between B's ids), is refused with a 4xx; B's records read the same."""
    b = b_records
    before = _b_snapshot(auth_server, b)
    owner = {"Authorization": f"Bearer {auth_server.tokens.other_writer}"}
    records = {kind: httpx.get(f"{auth_server.base_url}/api/v1/{kind}/{node}", headers=owner).json()
               for kind, node in (("artifacts", b.artifact), ("executions", b.execution), ("contexts", b.context))}
    ids = {"artifacts": b.artifact, "executions": b.execution, "contexts": b.context}
    links = {
        "/api/v1/events": {"artifact_id": b.artifact, "execution_id": b.execution, "type": "INPUT"},
        "/api/v1/events:batchPut": {"events": [{"artifact_id": b.artifact, "execution_id": b.execution,
                                                "type": "INPUT"}]},
        "/api/v1/attributions": {"artifact_id": b.artifact, "context_id": b.parent},
        "/api/v1/associations": {"execution_id": b.execution, "context_id": b.parent},
        "/api/v1/attributions_and_associations:batchPut": {
            "attributions": [{"artifact_id": b.artifact, "context_id": b.parent}],
            "associations": [{"execution_id": b.execution, "context_id": b.parent}]},
        "/api/v1/parent_contexts": {"child_id": b.parent, "parent_id": b.context},
    }  # fmt: skip
    checked = 0
    for method, path in _write_operations(auth_server):
        kind = path.split("/")[3].split(":")[0]
        names_b = "{id}" in path or path in links
        if not names_b:
            continue  # a create names nothing of B's; what it makes lands in A's namespace (checked elsewhere)
        url = path.replace("{id}", str(ids.get(kind, b.artifact)))
        changed = {"uri": "/overwritten"} if kind == "artifacts" else {"name": "overwritten"}
        body = links.get(path, {**records.get(kind, {}), **changed})
        # DELETE needs admin: A's admin (no namespace named) is still in A's namespace.
        token = auth_server.tokens.admin if method == "delete" else auth_server.tokens.writer
        response = httpx.request(method.upper(), auth_server.base_url + url, headers={"Authorization": f"Bearer {token}"},
                                 json=None if method == "delete" else body, timeout=30)  # fmt: skip
        # By id: NOT_FOUND, as for an id that does not exist (a well-formed body: never refused for its shape).
        # Links: what MLMD answers for an id it does not have (INVALID_ARGUMENT).
        expected = (404,) if "{id}" in path else (400, 404)
        assert response.status_code in expected, (method, path, response.status_code, response.text[:300])
        assert not [leak for leak in LEAKS if leak.lower() in response.text.lower()], (method, path, response.text[:300])
        checked += 1
    assert checked >= 15
    assert _b_snapshot(auth_server, b) == before
