"""Request ids in logs: X-Request-Id and gRPC x-request-id are taken, answered and stamped on JSON log lines."""

from __future__ import annotations

import json
import logging
import re
import sys

import grpc
import httpx
from grpc_server import start_server

from mlineage.api.logging_requests import (
    JsonFormatter,
    RequestIdFilter,
    accept_request_id,
    bind_request_id,
    release_request_id,
)
from mlineage.proto import metadata_store_service_pb2 as svc

MLMD = "ml_metadata.MetadataStoreService"


def _json_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.startswith("{")]
    return [json.loads(line) for line in lines]


def test_serve_logs_json_lines_carrying_each_requests_id_and_answers_it(tmp_path):
    server = start_server(f"sqlite:///{tmp_path / 'm.db'}", http=True, extra_args=["--access-log", "--log-format", "json"])
    try:
        base = f"http://127.0.0.1:{server.http_port}"
        given = httpx.get(f"{base}/healthz", headers={"X-Request-Id": "kfp-run-7:step-2"}, timeout=10)
        assert given.headers["x-request-id"] == "kfp-run-7:step-2"
        fresh = httpx.get(f"{base}/api/v1/artifact_types", timeout=10)
        assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["x-request-id"])
        # An id that could not be a plain token (too long here) is replaced, not logged as given.
        forged = httpx.get(f"{base}/healthz", headers={"X-Request-Id": "x" * 200}, timeout=10)
        assert forged.headers["x-request-id"] != "x" * 200
        with grpc.insecure_channel(server.target) as channel:
            call = channel.unary_unary(f"/{MLMD}/GetArtifactTypes", request_serializer=lambda m: m.SerializeToString(),
                                       response_deserializer=svc.GetArtifactTypesResponse.FromString)
            _, answered = call.with_call(svc.GetArtifactTypesRequest(), metadata=(("x-request-id", "grpc-42"),),
                                         timeout=30)
            assert ("x-request-id", "grpc-42") in tuple(answered.trailing_metadata())
            _, generated = call.with_call(svc.GetArtifactTypesRequest(), timeout=30)
            generated_id = dict(generated.trailing_metadata())["x-request-id"]
            assert re.fullmatch(r"[0-9a-f]{32}", generated_id)
    finally:
        assert server.terminate() == 0
    text = server.output()
    entries = _json_lines(text)
    by_id = {entry["request_id"]: entry for entry in entries if entry.get("request_id")}
    http_line = by_id["kfp-run-7:step-2"]
    assert (http_line["logger"], http_line["method"], http_line["path"], http_line["status"]) == (
        "mlineage.access.http", "GET", "/healthz", 200)
    assert http_line["level"] == "INFO" and http_line["duration_ms"] >= 0 and http_line["time"].endswith("+00:00")
    assert by_id[fresh.headers["x-request-id"]]["path"] == "/api/v1/artifact_types"
    assert "x" * 200 not in text
    assert by_id["grpc-42"]["logger"] == "mlineage.access"
    assert f"/{MLMD}/GetArtifactTypes OK" in by_id["grpc-42"]["message"]
    assert by_id[generated_id]["logger"] == "mlineage.access"
    # uvicorn's own (text) access line is off in the JSON format: each request is logged once.
    assert '"GET /healthz HTTP/1.1"' not in text


def test_a_json_line_holds_extra_fields_and_the_exception():
    record = logging.LogRecord("mlineage.test", logging.ERROR, __file__, 1, "failed %s", ("x",), None)
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    record.table = "artifacts"
    token = bind_request_id("abc")
    try:
        RequestIdFilter().filter(record)
    finally:
        release_request_id(token)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "failed x" and entry["level"] == "ERROR" and entry["logger"] == "mlineage.test"
    assert entry["request_id"] == "abc" and entry["table"] == "artifacts"
    assert "ValueError: boom" in entry["exception"]


def test_only_plain_short_request_ids_are_taken():
    assert accept_request_id("a.b_c:d-1") == "a.b_c:d-1"
    for bad in ("", None, "x" * 129, "two words", "line\nbreak", '{"json":1}'):
        taken = accept_request_id(bad)
        assert taken != bad and re.fullmatch(r"[0-9a-f]{32}", taken)
