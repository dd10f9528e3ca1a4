"""OpenTelemetry traces of `mlineage serve`: exported over OTLP to a real (in-process) collector endpoint.

The collector is opentelemetry-proto's TraceService on a gRPC server of the test's own, receiving
what the SDK's OTLP exporter sends. A gRPC call and an HTTP request that carry a W3C ``traceparent``
each give a SERVER span in that trace, under the caller's span, with the request id, and CLIENT
spans of the SQL statements they ran under it. Without the ``otel`` extra, ``--otel`` is one line.
The extra is installed by scripts/setup_env.sh; CI fails (MLINEAGE_REQUIRE_OTEL=1) if it is not.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent import futures

import grpc
import httpx
import pytest
from grpc_server import start_server

from mlineage.api import tracing
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metadata_store_service_pb2 as svc

if os.environ.get("MLINEAGE_REQUIRE_OTEL") == "1":
    import opentelemetry.proto.collector.trace.v1.trace_service_pb2 as otlp  # noqa: F401 - fails here if missing
otlp = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2",
                           reason="the otel extra is not installed (pip install 'mlineage[otel]')")
otlp_grpc = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc")

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
SERVER, CLIENT = 2, 3  # opentelemetry.proto.trace.v1.Span.SpanKind


class Collector(otlp_grpc.TraceServiceServicer):
    """What an OpenTelemetry collector receives, span by span (as plain dicts)."""

    def __init__(self) -> None:
        self.spans: list[dict] = []
        self.services: set[str] = set()
        self._lock = threading.Lock()

    def Export(self, request, context):  # noqa: N802 - the OTLP service's method name
        with self._lock:
            for resource_spans in request.resource_spans:
                for attribute in resource_spans.resource.attributes:
                    if attribute.key == "service.name":
                        self.services.add(attribute.value.string_value)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append({
                            "name": span.name, "kind": span.kind, "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(), "parent": span.parent_span_id.hex(),
                            "attributes": {a.key: _value(a.value) for a in span.attributes},
                        })  # fmt: skip
        return otlp.ExportTraceServiceResponse()

    def wait_for(self, name: str, trace_id: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [s for s in self.spans if s["name"] == name and s["trace_id"] == trace_id]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no span {name} in trace {trace_id}: {[s['name'] for s in self.spans]}")

    def children(self, span: dict) -> list[dict]:
        with self._lock:
            return [s for s in self.spans if s["parent"] == span["span_id"]]


def _value(value):
    return getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None


@pytest.fixture
def collector():
    found = Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    otlp_grpc.add_TraceServiceServicer_to_server(found, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    found.endpoint = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    try:
        yield found
    finally:
        server.stop(grace=0)


@pytest.fixture
def traced_server(tmp_path, collector):
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, "OTEL_SERVICE_NAME": "mlineage-under-test",
           "OTEL_BSP_SCHEDULE_DELAY": "100"}  # export every 0.1 s, not 5 s
    server = start_server(f"sqlite:///{tmp_path / 'traced.db'}", http=True, env=env)
    try:
        yield server
    finally:
        assert server.terminate() == 0, server.output()


def _traceparent(span: str = CALLER_SPAN, trace_id: str = TRACE_ID) -> str:
    return f"00-{trace_id}-{span}-01"


def _sql_children(collector: Collector, span: dict) -> list[dict]:
    return [child for child in collector.children(span) if child["kind"] == CLIENT
            and child["attributes"].get("db.system.name") == "sqlite"]


def test_a_grpc_call_is_a_server_span_of_the_callers_trace_with_its_sql_under_it(traced_server, collector):
    assert "mlineage: OpenTelemetry traces to OTLP to " + collector.endpoint in traced_server.output()
    with grpc.insecure_channel(traced_server.target) as channel:
        put = channel.unary_unary("/ml_metadata.MetadataStoreService/PutArtifactType",
                                  request_serializer=lambda message: message.SerializeToString(),
                                  response_deserializer=svc.PutArtifactTypeResponse.FromString)
        put(svc.PutArtifactTypeRequest(artifact_type=pb.ArtifactType(name="Traced")), timeout=30,
            metadata=[("traceparent", _traceparent()), ("x-request-id", "req-otel-1")])
    span = collector.wait_for("/ml_metadata.MetadataStoreService/PutArtifactType", TRACE_ID)
    assert span["kind"] == SERVER and span["parent"] == CALLER_SPAN
    assert span["attributes"]["mlineage.request_id"] == "req-otel-1"
    assert span["attributes"]["rpc.method"] == "PutArtifactType"
    statements = _sql_children(collector, span)
    assert any(s["attributes"]["db.query.text"].startswith("INSERT INTO types") for s in statements), statements
    assert all(s["trace_id"] == TRACE_ID for s in statements)
    assert {s["name"] for s in statements} <= {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"}
    assert collector.services == {"mlineage-under-test"}


def test_an_http_request_is_a_server_span_named_by_its_route_with_its_sql_under_it(traced_server, collector):
    http = f"http://{traced_server.host}:{traced_server.http_port}"
    trace_id = "5bf92f3577b34da6a3ce929d0e0e4737"
    answer = httpx.get(f"{http}/api/v1/artifact_types/1", timeout=30,
                       headers={"traceparent": _traceparent(trace_id=trace_id), "x-request-id": "req-otel-2"})
    assert answer.status_code in (200, 404), answer.text
    httpx.get(f"{http}/metrics", timeout=30, headers={"traceparent": _traceparent(trace_id="6" * 32)})
    span = collector.wait_for("GET /api/v1/artifact_types/{type_id}", trace_id)
    assert span["kind"] == SERVER and span["parent"] == CALLER_SPAN
    assert span["attributes"]["mlineage.request_id"] == "req-otel-2"
    assert span["attributes"]["http.route"] == "/api/v1/artifact_types/{type_id}"
    assert any(s["attributes"]["db.query.text"].startswith("SELECT") for s in _sql_children(collector, span))
    time.sleep(0.5)  # a scrape is never traced (probes and /metrics are excluded)
    assert not [s for s in collector.spans if s["trace_id"] == "6" * 32]


def test_otel_without_the_extra_is_one_line_and_exit_2(tmp_path):
    # The extra's SDK made unimportable in this process, as in an installation without mlineage[otel].
    program = ("import sys; sys.modules['opentelemetry.sdk'] = None; from mlineage.cli import main; "
               f"sys.exit(main(['serve', '--otel', '--db', 'sqlite:///{tmp_path / 'x.db'}', '--create', "
               "'--grpc-port', '0', '--http-port', '0']))")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60,
                            env={k: v for k, v in os.environ.items() if not k.startswith("OTEL_")})
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [f"error: --otel: {tracing.MISSING_EXTRA}"], result.stderr
    assert "mlineage: gRPC on" not in result.stdout


def test_the_variables_alone_without_the_extra_serve_untraced_with_one_warning(tmp_path):
    program = ("import sys; sys.modules['opentelemetry.sdk'] = None; from mlineage.cli import main; "
               f"sys.exit(main(['serve', '--db', 'sqlite:///{tmp_path / 'x.db'}', '--create', "
               "'--grpc-port', '0', '--http-port', '0']))")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    process = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**environment, "OTEL_SERVICE_NAME": "mlineage", "MLINEAGE_LOG_LEVEL": "WARNING"})
    try:
        ready = process.stdout.readline()  # type: ignore[union-attr]
        while ready and "mlineage: gRPC on" not in ready:
            ready = process.stdout.readline()  # type: ignore[union-attr]
        assert "mlineage: gRPC on" in ready
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors
    assert errors.strip().splitlines() == [f"warning: OTEL_* variables set, but no traces: {tracing.MISSING_EXTRA}"]


def test_tracing_is_requested_by_the_flag_or_the_standard_variables():
    assert not tracing.requested(False, {})
    assert tracing.requested(True, {})
    assert tracing.requested(False, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"})
    assert tracing.requested(False, {"OTEL_SERVICE_NAME": "mlineage"})
    assert not tracing.requested(True, {"OTEL_SDK_DISABLED": "true"})
