"""The manifests' commands, run: the migration Job, then the server as the Deployment starts it, probed.

What a cluster would run, taken from the rendered manifests and run here on a
real PostgreSQL database: the Job's command with the Job's environment, then
the Deployment's container (`mlineage serve`, the image's entrypoint, with the
Deployment's args and the ConfigMap's environment), asked what its startup,
readiness and liveness probes ask, then stopped with SIGTERM as the kubelet
stops it. The ConfigMap's ports are replaced by free ones, as an operator's
edit of the ConfigMap would. The Kubeflow overlay's server answers MLMD's API
with no credential, as KFP's components call it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc
from conftest import postgres_database
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_server import READY_LINE, free_port
from kustomize_render import render
from paths import REPO_ROOT

import mlineage
from mlineage.migrations.runner import head_revision
from mlineage.proto import metadata_store_pb2 as pb

KUSTOMIZE = REPO_ROOT / "deploy" / "kustomize"
START_TIMEOUT_S = 60


def _workload(name: str, kind: str) -> tuple[dict, dict]:
    """The (only) container of the rendered `kind` and the ConfigMap data of that kustomization."""
    resources = render(KUSTOMIZE / name)
    workload = next(r for r in resources if r["kind"] == kind)
    config = next((r["data"] for r in resources if r["kind"] == "ConfigMap"), {})
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    return container, config


def _mlineage() -> str:
    return str(Path(sys.executable).with_name("mlineage"))


def _environment(container: dict, config: dict, db_url: str, **overrides: str) -> dict[str, str]:
    """The container's environment: envFrom the ConfigMap, env (the Secret's url is db_url), then overrides."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "MLINEAGE_LOG_LEVEL": "WARNING"}
    if container.get("envFrom"):
        env.update(config)
    for variable in container.get("env", []):
        secret = variable.get("valueFrom", {}).get("secretKeyRef")
        assert secret is None or (secret["name"], secret["key"]) == ("mlineage-db", "url"), variable
        env[variable["name"]] = db_url if secret else variable["value"]
    env.update(overrides)
    return env


def _start(args: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen, list[str]]:
    process = subprocess.Popen([_mlineage(), "serve", *args], env=env, cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT_S
    assert process.stdout is not None
    while not any("mlineage: HTTP on" in line for line in lines):
        line = process.stdout.readline()
        if not line or time.monotonic() > deadline:
            process.kill()
            raise AssertionError("mlineage serve did not start:\n" + "".join(lines))
        lines.append(line)
    return process, lines


def _stop(process: subprocess.Popen, lines: list[str], within: float) -> None:
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=within)
    assert code == 0, "".join(lines) + (process.stdout.read() if process.stdout else "")


def _http_probe(port: int, path: str) -> tuple[int, dict]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return response.status, json.loads(response.read())


def _grpc_probe(port: int) -> int:
    # What the kubelet's grpc probe sends: Health/Check with the probe's service name ("" when unset).
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status


def _probe_target(container: dict, probe: str, ports: dict[str, int]) -> int:
    """The local port a probe of the container reaches (its named or numbered port, remapped to ours)."""
    handler = container[probe]
    port = (handler.get("httpGet") or handler.get("grpc"))["port"]
    by_name = {p["name"]: p["containerPort"] for p in container["ports"]}
    return ports[by_name.get(port, port)]


def test_the_migration_job_then_the_deployment_serve_and_answer_their_probes(tmp_path):
    db_url = postgres_database("mlineage_rollout")
    job, _ = _workload("migrate", "Job")
    job_env = _environment(job, {}, db_url)
    first = subprocess.run(job["command"], env=job_env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                           executable=_mlineage())
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().endswith(f"-> {head_revision()}")
    again = subprocess.run(job["command"], env=job_env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                           executable=_mlineage())
    assert again.returncode == 0, again.stderr  # a rerun of the Job (a retry, the next rollout) is harmless

    container, config = _workload("base", "Deployment")
    ports = {8080: free_port(), 8081: free_port()}
    env = _environment(container, config, db_url, MLINEAGE_GRPC_PORT=str(ports[8080]),
                       MLINEAGE_HTTP_PORT=str(ports[8081]))
    process, lines = _start(container["args"], env, tmp_path)
    try:
        ready = next(match for line in lines if (match := READY_LINE.search(line)))
        assert int(ready["port"]) == ports[8080]
        assert _http_probe(_probe_target(container, "startupProbe", ports), "/healthz") == (200, {"status": "ok"})
        status, body = _http_probe(_probe_target(container, "readinessProbe", ports), "/readyz")
        assert status == 200 and body["status"] == "ok" and body["read_only"] is False
        assert _grpc_probe(_probe_target(container, "livenessProbe", ports)) == health_pb2.HealthCheckResponse.SERVING
    finally:
        if process.poll() is None:
            pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
            _stop(process, lines, within=30 - pre_stop)


def test_the_kubeflow_overlays_server_answers_mlmds_api_without_a_credential(tmp_path):
    db_url = postgres_database("mlineage_kfp")
    job, _ = _workload("migrate", "Job")
    upgrade = subprocess.run(job["command"], env=_environment(job, {}, db_url), cwd=tmp_path, capture_output=True,
                             text=True, timeout=120, executable=_mlineage())
    assert upgrade.returncode == 0, upgrade.stderr
    container, config = _workload("overlays/kubeflow", "Deployment")
    ports = {8080: free_port(), 8081: free_port()}
    env = _environment(container, config, db_url, MLINEAGE_GRPC_PORT=str(ports[8080]),
                       MLINEAGE_HTTP_PORT=str(ports[8081]))
    process, lines = _start(container["args"], env, tmp_path)
    try:
        assert any("NO authentication" in line for line in lines), lines
        store = mlineage.connect(f"grpc://127.0.0.1:{ports[8080]}")
        try:
            type_id = store.put_artifact_type(pb.ArtifactType(name="system.Dataset"))
            [artifact_id] = store.put_artifacts([pb.Artifact(type_id=type_id, uri="gs://bucket/data")])
            assert store.get_artifacts_by_id([artifact_id])[0].uri == "gs://bucket/data"
        finally:
            store.close()
    finally:
        if process.poll() is None:
            _stop(process, lines, within=30)
