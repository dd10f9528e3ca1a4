"""`mlineage serve` answers HTTP beside gRPC: health, /docs, a complete /openapi.json, /metrics of both."""

from __future__ import annotations

import grpc
import httpx
from grpc_server import mlineage_server

from mlineage.proto import metadata_store_service_pb2 as svc
from mlineage.proto import metadata_store_service_pb2_grpc as svc_grpc


def _refs(value, found: set[str]) -> set[str]:
    if isinstance(value, dict):
        if isinstance(value.get("$ref"), str):
            found.add(value["$ref"])
        for item in value.values():
            _refs(item, found)
    elif isinstance(value, list):
        for item in value:
            _refs(item, found)
    return found


def test_serve_answers_http_and_grpc_from_one_store(tmp_path):
    with mlineage_server(tmp_path, http=True) as server:
        base = f"http://{server.host}:{server.http_port}"
        with httpx.Client(base_url=base, timeout=30) as http:
            assert http.get("/healthz").json() == {"status": "ok"}
            ready = http.get("/readyz")
            assert ready.status_code == 200 and ready.json()["read_only"] is False
            assert "swagger" in http.get("/docs").text.lower()

            created = http.post("/api/v1/artifact_types", json={"name": "Model", "properties": {"acc": "DOUBLE"}}).json()
            with grpc.insecure_channel(server.target) as channel:
                stub = svc_grpc.MetadataStoreServiceStub(channel)
                found = stub.GetArtifactType(svc.GetArtifactTypeRequest(type_name="Model"))
                assert str(found.artifact_type.id) == created["id"]
                try:
                    stub.GetArtifactType(svc.GetArtifactTypeRequest(type_name="Nope"))
                except grpc.RpcError as exc:
                    assert exc.code() is grpc.StatusCode.NOT_FOUND

            metrics = http.get("/metrics")
            assert metrics.headers["content-type"].startswith("text/plain")
            lines = metrics.text.splitlines()
            assert any(
                line.startswith("mlineage_http_requests_total{")
                and 'route="/api/v1/artifact_types"' in line
                and 'method="POST"' in line
                for line in lines
            ), metrics.text[:2000]
            grpc_lines = [line for line in lines if line.startswith("mlineage_grpc_requests_total{")]
            assert any("GetArtifactType" in line and 'code="OK"' in line for line in grpc_lines), grpc_lines
            assert any("GetArtifactType" in line and 'code="NOT_FOUND"' in line for line in grpc_lines), grpc_lines
            assert any(line.startswith("mlineage_grpc_request_duration_seconds_bucket{") for line in lines)


def test_openapi_describes_every_operation_completely(tmp_path):
    with mlineage_server(tmp_path, http=True) as server:
        document = httpx.get(f"http://{server.host}:{server.http_port}/openapi.json", timeout=30).json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    for name in ("Artifact", "Execution", "Context", "Event", "LineageGraph", "Value", "Error", "OpenLineageEvent"):
        assert name in schemas
    # Generated from the descriptors: int64 as string or integer, enums by name, maps as objects.
    artifact = schemas["Artifact"]
    assert artifact["additionalProperties"] is False
    assert {branch["type"] for branch in artifact["properties"]["id"]["anyOf"]} == {"string", "integer"}
    assert "LIVE" in artifact["properties"]["state"]["anyOf"][0]["enum"]
    assert artifact["properties"]["custom_properties"]["additionalProperties"] == {"$ref": "#/components/schemas/Value"}

    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(operations) >= 50
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        responses = operation["responses"]
        assert "422" not in responses, where
        success = [code for code in responses if code.startswith("2")]
        assert success, where
        if "204" in success:  # No Content (a DELETE): nothing to describe, and nothing described
            assert "content" not in responses["204"], where
            success.remove("204")
        for code in success + ["400", "default"]:
            content = responses[code]["content"]
            assert content and all(media.get("schema") is not None for media in content.values()), (where, code)
        if method in ("post", "put", "patch"):
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            assert body, where
        assert responses["400"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    for ref in _refs(document, set()):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
