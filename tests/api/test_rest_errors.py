"""Bad input over HTTP gets the error body and a 4xx, never a 500; database states map to 412 and 503."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import httpx
import pytest
from rest_server import http_client
from sqlalchemy import create_engine, text

import mlineage
from mlineage.api.rest import io
from mlineage.metadata.store import Store


@pytest.fixture
def api(store) -> httpx.Client:
    with http_client(store) as client:
        client.post("/api/v1/artifact_types", json={"name": "Model", "properties": {"acc": "DOUBLE"}})
        yield client


def expect(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message"} and body["code"] == code, body
    assert "Traceback" not in body["message"] and "File \"" not in body["message"]
    return body["message"]


BAD_BODIES = [
    b"",
    b"{",
    b"not json",
    b"\xff\xfe",
    b"[]",
    b'"a string"',
    b"null",
    b"42",
    b'{"uri": 5}',
    b'{"uri": ["a"]}',
    b'{"type_id": "ten"}',
    b'{"type_id": 1.5}',
    b'{"type_id": 99999999999999999999999}',
    b'{"type_id": -99999999999999999999999}',
    b'{"id": "1e400"}',
    b'{"unknown_field": 1}',
    b'{"state": "NO_SUCH_STATE"}',
    b'{"state": 1e10}',
    b'{"properties": []}',
    b'{"properties": {"acc": 1}}',
    b'{"properties": {"acc": {"double_value": "fast"}}}',
    b'{"properties": {"acc": {"int_value": 1, "string_value": "x"}}}',
    b'{"custom_properties": {"x": {"struct_value": [1, 2]}}}',
    b'{"custom_properties": {"x": {"struct_value": {"n": NaN}}}}',
    b'{"custom_properties": {"x": {"struct_value": {"n": 1e999}}}}',
    b'{"custom_properties": {"x": {"proto_value": {"@type": "type.googleapis.com/no.Such"}}}}',
    b'{"custom_properties": {"x": {}}}',
    b'{"system_metadata": {"value": 1}}',
    b'{"type_id": "10", "uri": "\\ud800"}',
    b"[" * 50000 + b"]" * 50000,
    b'{"custom_properties": {"x": {"struct_value": ' + b'{"a": ' * 200 + b"1" + b"}" * 200 + b"}}}",
]


def test_malformed_bodies_are_invalid_argument(api):
    for index, body in enumerate(BAD_BODIES):
        response = api.post("/api/v1/artifacts", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400, f"body #{index}: {response.text}"
        expect(response, 400, "INVALID_ARGUMENT")


def test_every_write_route_refuses_garbage(api):
    routes = [
        ("POST", "/api/v1/artifact_types"), ("POST", "/api/v1/execution_types"), ("POST", "/api/v1/context_types"),
        ("POST", "/api/v1/types:batchPut"), ("POST", "/api/v1/executions"), ("POST", "/api/v1/contexts"),
        ("PUT", "/api/v1/artifacts/1"), ("PATCH", "/api/v1/executions/1"), ("POST", "/api/v1/artifacts:batchPut"),
        ("POST", "/api/v1/executions:put"), ("POST", "/api/v1/lineage_subgraph:put"), ("POST", "/api/v1/events"),
        ("POST", "/api/v1/events:batchPut"), ("POST", "/api/v1/attributions"), ("POST", "/api/v1/associations"),
        ("POST", "/api/v1/attributions_and_associations:batchPut"), ("POST", "/api/v1/parent_contexts"),
        ("POST", "/api/v1/lineage_subgraph:query"), ("POST", "/api/v1/lineage"),
    ]  # fmt: skip
    for method, path in routes:
        for body in (b"{", b"[1]", b'{"no_such_field": {"x": 1}}'):
            response = api.request(method, path, content=body)
            expect(response, 400, "INVALID_ARGUMENT")


BAD_PATHS = [
        "/api/v1/artifacts/18446744073709551616",
        "/api/v1/artifacts/-1",
        "/api/v1/artifacts/abc",
        "/api/v1/artifacts/1.5",
        "/api/v1/artifact_types/99999999999999999999",
        "/api/v1/artifacts?page_size=99999999999999999999",
        "/api/v1/artifacts?order_by=drop%20table",
        "/api/v1/events?execution_id=x",
        "/api/v1/events?execution_id=9223372036854775808",
        "/api/v1/lineage_subgraph?starting_artifacts=id%3D1&max_num_hops=101",
        "/api/v1/artifacts?filter=" + "x" * 20000,
        "/api/v1/artifacts?filter=id%20%3D%20%27a%27%20OR",
        "/api/v1/artifacts?filter=properties.acc.double_value%20%3D%20%27text%27",
        "/api/v1/artifacts?filter=%27%3B%20DROP%20TABLE%20artifacts%3B%20--",
]


def test_bad_parameters_are_invalid_argument(api):
    for path in BAD_PATHS:
        response = api.get(path)
        assert response.status_code == 400, f"{path}: {response.text}"
        expect(response, 400, "INVALID_ARGUMENT")


def test_huge_ids_in_range_are_not_found(api):
    expect(api.get("/api/v1/artifacts/9223372036854775807"), 404, "NOT_FOUND")
    body = {"artifact_id": "9223372036854775807", "execution_id": "9223372036854775807", "type": "INPUT"}
    expect(api.post("/api/v1/events", json=body), 400, "INVALID_ARGUMENT")


def test_nul_characters_are_refused_not_crashing(api):
    # SQLite stores NUL; PostgreSQL refuses it (400). Either way no 500.
    for body in ({"type_id": "10", "uri": "a\u0000b"}, {"type_id": "10", "name": "\u0000"}):
        assert api.post("/api/v1/artifacts", json=body).status_code in (201, 400)
    assert api.get("/api/v1/artifact_types/by-name", params={"name": "a\u0000"}).status_code in (400, 404)
    assert api.get("/api/v1/artifacts", params={"filter": "uri = 'a\u0000b'"}).status_code in (200, 400)
    assert api.post("/api/v1/artifact_types", json={"name": "T\u0000"}).status_code in (200, 400)


def test_gzip_bodies_and_size_limits(api, monkeypatch):
    body = json.dumps({"name": "Zipped"}).encode()
    created = api.post("/api/v1/artifact_types", content=gzip.compress(body), headers={"content-encoding": "gzip"})
    assert created.status_code == 200 and created.json()["name"] == "Zipped"
    expect(api.post("/api/v1/artifact_types", content=b"not gzip", headers={"content-encoding": "gzip"}), 400, "INVALID_ARGUMENT")
    monkeypatch.setattr(io, "MAX_BODY_BYTES", 1024)
    expect(api.post("/api/v1/artifact_types", content=b" " * 2048 + body), 413, "RESOURCE_EXHAUSTED")
    bomb = gzip.compress(b" " * 100_000 + body)
    expect(api.post("/api/v1/artifact_types", content=bomb, headers={"content-encoding": "gzip"}), 413, "RESOURCE_EXHAUSTED")


def test_unknown_routes_and_methods(api):
    expect(api.get("/api/v1/nothing"), 404, "NOT_FOUND")
    expect(api.delete("/api/v1/artifact_types/1"), 405, "UNIMPLEMENTED")  # nodes have DELETE; types do not
    expect(api.post("/api/v1/artifacts/1"), 405, "UNIMPLEMENTED")


def test_a_newer_schema_makes_the_store_read_only_and_writes_412(store_url):
    engine = create_engine(store_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    engine.dispose()
    store = mlineage.connect(store_url)
    try:
        assert store.read_only
        with http_client(store) as api:
            expect(api.post("/api/v1/artifact_types", json={"name": "M"}), 412, "FAILED_PRECONDITION")
            ol = {"eventType": "START", "eventTime": "2024-01-01T00:00:00Z", "producer": "p",
                  "run": {"runId": "8d4c5f5e-2a4e-4cf0-9d0f-2b0c2b7a1c3e"}, "job": {"namespace": "n", "name": "j"}}
            assert api.post("/api/v1/lineage", json=ol).status_code == 412
            assert api.get("/api/v1/artifacts").status_code == 200  # reads still work
            ready = api.get("/readyz").json()
            assert ready["read_only"] is True
    finally:
        store.close()


def test_a_database_that_is_gone_is_unavailable(tmp_path, sqlite_template):
    path = tmp_path / "gone.db"
    shutil.copy(sqlite_template, path)
    store = Store(f"sqlite:///{path}")
    with http_client(store) as api:
        assert api.get("/readyz").status_code == 200
        store.engine.dispose()
        path.unlink()
        Path(f"{path}-wal").unlink(missing_ok=True)
        path.mkdir()  # the file is now a directory: every connection fails
        expect(api.get("/api/v1/artifacts/1"), 503, "UNAVAILABLE")
        expect(api.post("/api/v1/artifact_types", json={"name": "M"}), 503, "UNAVAILABLE")
        expect(api.get("/readyz"), 503, "UNAVAILABLE")
        assert api.get("/healthz").status_code == 200
    store.close()


def test_metrics_count_requests_per_route(api):
    api.get("/api/v1/artifacts/1")
    api.get("/api/v1/artifacts/2")
    text_format = api.get("/metrics").text
    lines = [line for line in text_format.splitlines() if line.startswith("mlineage_http_requests_total{")]
    assert any('route="/api/v1/artifacts/{id}"' in line and 'status="404"' in line for line in lines), lines
    assert "mlineage_http_request_duration_seconds_bucket" in text_format
    assert 'mlineage_info{version="' in text_format


def test_a_database_error_no_store_method_mapped_is_answered_in_the_stores_words():
    # The boundary's last resort (api/rest imports no SQLAlchemy: it asks the store's error mapping).
    import sqlite3

    from sqlalchemy.exc import (
        DataError,
        IntegrityError,
        InvalidRequestError,
        OperationalError,
        ProgrammingError,
    )

    from mlineage.api.rest.errors import database_error

    class Orig(Exception):
        pass

    cases = [
        (IntegrityError("INSERT", {}, Orig("UNIQUE constraint failed: executions.type_id, executions.name")), 409,
         "ALREADY_EXISTS"),
        (DataError("INSERT", {}, Orig("value too long for type character varying(255)")), 400, "INVALID_ARGUMENT"),
        (ProgrammingError("SELECT", {}, Orig("operator does not exist: bigint = text")), 400, "INVALID_ARGUMENT"),
        (OperationalError("SELECT", {}, Orig("database is locked")), 409, "ABORTED"),
        (OperationalError("SELECT", {}, Orig("server closed the connection")), 503, "UNAVAILABLE"),
        (sqlite3.IntegrityError("UNIQUE constraint failed: artifacts.uri"), 409, "ALREADY_EXISTS"),
        (sqlite3.OperationalError("disk I/O error"), 503, "UNAVAILABLE"),
    ]
    for exc, status, code in cases:
        response = database_error("POST", "/api/v1/artifacts", exc)
        assert response is not None, exc
        body = json.loads(response.body)
        assert (response.status_code, body["code"]) == (status, code), (exc, body)
        for internal in ("constraint", "executions.", "artifacts.", "bigint", "varying"):
            assert internal not in body["message"], (exc, body)
    assert database_error("GET", "/", InvalidRequestError("a bug, not the database")) is None
    assert database_error("GET", "/", ValueError("not a database error")) is None
