"""The container's health check: `mlineage serve` answers on HTTP (/healthz) and gRPC (grpc.health.v1).

The image's HEALTHCHECK runs it with the image's Python. It asks the server on
the loopback interface at $MLINEAGE_HTTP_PORT and $MLINEAGE_GRPC_PORT (8081 and
8080 by default), exits 0 when /healthz says ok and the gRPC health service says
SERVING, and 1 with one line naming what did not answer otherwise. A port set to
0 is not checked (`serve --http-port 0` disables HTTP). Kubernetes does not use
it: its probes ask the same endpoints themselves (deploy/kustomize/base).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request

TIMEOUT_S = 2.0


def _port(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() else default


def http_healthy(port: int) -> str | None:
    """None when GET /healthz answers 200 with status ok; otherwise what went wrong."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=TIMEOUT_S) as response:
            body = json.loads(response.read() or b"{}")
    except (OSError, ValueError) as exc:
        return f"HTTP /healthz on port {port} does not answer: {exc}"
    if body.get("status") != "ok":
        return f"HTTP /healthz on port {port} answered {body!r}"
    return None


def grpc_healthy(port: int) -> str | None:
    """None when grpc.health.v1.Health/Check answers SERVING for the server; otherwise what went wrong."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT_S)
        except grpc.RpcError as exc:
            return f"gRPC health on port {port} does not answer: {exc.code().name}"
    if answer.status != health_pb2.HealthCheckResponse.SERVING:
        return f"gRPC health on port {port} answered {health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)}"
    return None


def main() -> int:
    problems = []
    http_port = _port("MLINEAGE_HTTP_PORT", 8081)
    grpc_port = _port("MLINEAGE_GRPC_PORT", 8080)
    if http_port:
        problems.append(http_healthy(http_port))
    if grpc_port:
        problems.append(grpc_healthy(grpc_port))
    failed = [problem for problem in problems if problem]
    for problem in failed:
        print(f"unhealthy: {problem}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
