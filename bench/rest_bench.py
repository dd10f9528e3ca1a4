"""Log runs through mlineage's REST API and through MLflow's tracking server, side by side, in one run.

The workload is MLflow's bread and butter: N runs (default 1,000) with 10 params and 10 metrics
each, in one experiment, each run finished. Both servers run locally on a fresh SQLite file, both
are driven over HTTP with keep-alive by the same client code, with `--clients` concurrent
clients (default 1: one pipeline logging its runs).

What is compared, per run:

* MLflow (anchor): `mlflow server --backend-store-uri sqlite:///… --workers 1` (one process, as
  `mlineage serve`; `--mlflow-workers` changes it; its other settings are the defaults), through
  its REST API: `runs/create`, `runs/log-batch` (10 params, 10 metrics), `runs/update`
  (FINISHED): three requests, the fewest MLflow's API allows for a finished run with data.
* mlineage, one request: `POST /api/v1/executions:put` (MLMD's PutExecution): an execution of type
  `Run` with the 10 params as declared properties, the 10 metrics as custom properties, state
  COMPLETE, associated with the experiment's context.
* mlineage, three requests (MLflow's call pattern): `executions:put` (RUNNING, params, context),
  `PATCH /executions/{id}` (metrics), `PATCH /executions/{id}` (COMPLETE).

MLflow keeps each metric as a time series point (with step and timestamp); mlineage's custom
properties keep the latest value (its metric series live behind the gRPC MetricService, not REST).
Every run is read back at the end from both servers and counted, so a fast but lossy server
cannot look good. Goal: mlineage (one request) at least 3x MLflow's runs per second.

    .venv/bin/python bench/rest_bench.py                 # 1,000 runs, 1 client
    .venv/bin/python bench/rest_bench.py --runs 2000 --clients 4

MLflow runs from its own venv (`.venvs/mlflow`, created with `uv venv` + `uv pip install mlflow`
on first use; `--mlflow-python` picks another). Results: a table and bench/results/rest_bench.json.
Exit status: 0 the goal is met, 1 it is not, 2 a server failed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_OUTPUT = BENCH_DIR / "results" / "rest_bench.json"
DEFAULT_MLFLOW_VENV = REPO_ROOT / ".venvs" / "mlflow"
GOAL = 3.0
PARAMS = 10
METRICS = 10


# --- servers --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_mlflow(python: str | None) -> str:
    """The interpreter of a venv with mlflow: the given one, or .venvs/mlflow (created if missing)."""
    if python:
        return python
    interpreter = DEFAULT_MLFLOW_VENV / "bin" / "python"
    probe = [str(interpreter), "-c", "import mlflow"]
    if interpreter.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return str(interpreter)
    uv = shutil.which("uv")
    if uv is None:
        raise RuntimeError("uv is needed to create .venvs/mlflow (pip install uv), or pass --mlflow-python")
    print("creating .venvs/mlflow (uv venv + uv pip install mlflow) ...", flush=True)
    subprocess.run([uv, "venv", "-q", str(DEFAULT_MLFLOW_VENV), "--python", "3.11"], check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(interpreter), "mlflow"], check=True)
    return str(interpreter)


class Server:
    """A server subprocess: started, waited for over HTTP, stopped with SIGTERM."""

    def __init__(self, name: str, command: list[str], url: str, ready_path: str, log: Path, env: dict | None = None):
        self.name, self.url = name, url
        self.log = log
        self._file = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, stdout=self._file, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} exited with {self.process.returncode}: {self.tail()}")
            try:
                if httpx.get(url + ready_path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{name} did not answer {ready_path} within 180 s: {self.tail()}")

    def tail(self, lines: int = 20) -> str:
        self._file.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the server and the workers it started
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._file.close()


def start_mlineage(workdir: Path) -> Server:
    port = free_port()
    mlineage = Path(sys.executable).with_name("mlineage")
    command = [str(mlineage)] if mlineage.exists() else [sys.executable, "-m", "mlineage.cli"]
    command += ["serve", "--db", f"sqlite:///{workdir / 'mlineage.db'}", "--create", "--host", "127.0.0.1",
                "--grpc-port", "0", "--http-port", str(port)]  # fmt: skip
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    return Server("mlineage", command, f"http://127.0.0.1:{port}", "/readyz", workdir / "mlineage.log", env)


def start_mlflow(python: str, workdir: Path, workers: int) -> Server:
    port = free_port()
    command = [
        python, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
        "--default-artifact-root", str(workdir / "mlflow-artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    return Server("mlflow", command, f"http://127.0.0.1:{port}", "/health", workdir / "mlflow.log")


# --- workloads ------------------------------------------------------------------------------------


def params_of(run: int) -> dict[str, str]:
    return {f"param_{i}": f"{(run * 7 + i) % 97 / 1000:.3f}" for i in range(PARAMS)}


def metrics_of(run: int) -> dict[str, float]:
    return {f"metric_{i}": (run * 13 + i) % 101 / 100 for i in range(METRICS)}


def check(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 300:
        raise RuntimeError(f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text[:300]}")
    return response.json()


class MLflow:
    name = "mlflow (3 requests/run)"

    def __init__(self, url: str) -> None:
        self.url = url

    def setup(self, client: httpx.Client) -> None:
        name = f"bench-{time.time_ns()}"
        self.experiment = check(client.post("/api/2.0/mlflow/experiments/create", json={"name": name}))["experiment_id"]

    def log_run(self, client: httpx.Client, run: int) -> None:
        now = int(time.time() * 1000)
        created = check(client.post("/api/2.0/mlflow/runs/create", json={
            "experiment_id": self.experiment, "run_name": f"run-{run}", "start_time": now,
        }))  # fmt: skip
        run_id = created["run"]["info"]["run_id"]
        check(client.post("/api/2.0/mlflow/runs/log-batch", json={
            "run_id": run_id,
            "params": [{"key": k, "value": v} for k, v in params_of(run).items()],
            "metrics": [{"key": k, "value": v, "timestamp": now, "step": 0} for k, v in metrics_of(run).items()],
        }))  # fmt: skip
        check(client.post("/api/2.0/mlflow/runs/update", json={"run_id": run_id, "status": "FINISHED", "end_time": now}))

    def verify(self, client: httpx.Client, runs: int) -> None:
        seen, token = 0, None
        while True:
            body = {"experiment_ids": [self.experiment], "max_results": 1000, **({"page_token": token} if token else {})}
            page = check(client.post("/api/2.0/mlflow/runs/search", json=body))
            for found in page.get("runs", []):
                data = found["data"]
                assert found["info"]["status"] == "FINISHED"
                assert len(data.get("params", [])) == PARAMS and len(data.get("metrics", [])) == METRICS
                seen += 1
            token = page.get("next_page_token")
            if not token:
                break
        assert seen == runs, f"mlflow holds {seen} runs, not {runs}"


class Mlineage:
    """mlineage: one PutExecution request per run (or MLflow's three-call pattern with ``calls=3``)."""

    def __init__(self, url: str, calls: int = 1) -> None:
        self.url, self.calls = url, calls
        self.name = f"mlineage ({calls} request{'s' if calls > 1 else ''}/run)"

    def setup(self, client: httpx.Client) -> None:
        run_type = {"name": "Run", "properties": {name: "STRING" for name in params_of(0)}}
        self.type_id = check(client.post("/api/v1/execution_types", params={"can_add_fields": "true"}, json=run_type))["id"]
        experiment_type = check(client.post("/api/v1/context_types", json={"name": "Experiment"}))["id"]
        name = f"bench-{self.calls}-{time.time_ns()}"
        self.experiment = check(client.post("/api/v1/contexts", json={"type_id": experiment_type, "name": name}))["id"]

    def _execution(self, run: int, state: str, with_metrics: bool) -> dict[str, Any]:
        execution = {
            "type_id": self.type_id,
            "name": f"run-{self.experiment}-{run}",
            "last_known_state": state,
            "properties": {k: {"string_value": v} for k, v in params_of(run).items()},
        }
        if with_metrics:
            execution["custom_properties"] = {k: {"double_value": v} for k, v in metrics_of(run).items()}
        return execution

    def log_run(self, client: httpx.Client, run: int) -> None:
        if self.calls == 1:
            body = {
                "execution": self._execution(run, "COMPLETE", with_metrics=True),
                "contexts": [{"id": self.experiment}],
                "options": {"force_reuse_context": True},
            }
            check(client.post("/api/v1/executions:put", json=body))
            return
        body = {
            "execution": self._execution(run, "RUNNING", with_metrics=False),
            "contexts": [{"id": self.experiment}],
            "options": {"force_reuse_context": True},
        }
        execution_id = check(client.post("/api/v1/executions:put", json=body))["execution_id"]
        metrics = {"custom_properties": {k: {"double_value": v} for k, v in metrics_of(run).items()}}
        check(client.patch(f"/api/v1/executions/{execution_id}", json=metrics))
        check(client.patch(f"/api/v1/executions/{execution_id}", json={"last_known_state": "COMPLETE"}))

    def verify(self, client: httpx.Client, runs: int) -> None:
        seen, token = 0, None
        while True:
            params = {"page_size": 1000, **({"page_token": token} if token else {})}
            page = check(client.get(f"/api/v1/contexts/{self.experiment}/executions", params=params))
            for execution in page["executions"]:
                assert execution["last_known_state"] == "COMPLETE"
                assert len(execution["properties"]) == PARAMS and len(execution["custom_properties"]) == METRICS
                seen += 1
            token = page["next_page_token"]
            if not token:
                break
        assert seen == runs, f"mlineage holds {seen} runs, not {runs}"


def measure(target, runs: int, clients: int, warmup: int) -> dict[str, Any]:
    """Log ``runs`` runs with ``clients`` concurrent keep-alive clients; runs/s and latency."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    with httpx.Client(base_url=target.url, timeout=60, limits=limits) as client:
        target.setup(client)
        for run in range(-warmup, 0):  # not timed, not counted: connections and caches warm up
            target.log_run(client, run)
        if warmup:
            target.setup(client)  # a fresh experiment for the timed runs
        latencies: list[float] = []

        def one(run: int) -> None:
            start = time.perf_counter()
            target.log_run(client, run)
            latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        if clients == 1:
            for run in range(runs):
                one(run)
        else:
            with concurrent.futures.ThreadPoolExecutor(clients) as pool:
                for future in [pool.submit(one, run) for run in range(runs)]:
                    future.result()
        elapsed = time.perf_counter() - start
        target.verify(client, runs)
    latencies.sort()
    return {
        "seconds": elapsed,
        "runs_per_s": runs / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=1, help="concurrent HTTP clients (default 1)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed runs first (default 20)")
    parser.add_argument("--mlflow-python", help="interpreter of a venv with mlflow (default .venvs/mlflow)")
    parser.add_argument(
        "--mlflow-workers", type=int, default=1,
        help="MLflow server worker processes (default 1, as mlineage serves from one process; MLflow's own "
        "default is 4, whose idle workers cost CPU on small machines)",
    )  # fmt: skip
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    try:
        mlflow_python = ensure_mlflow(args.mlflow_python)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"error: MLflow is not available: {exc}", file=sys.stderr)
        return 2
    mlflow_version = subprocess.run(
        [mlflow_python, "-c", "import mlflow; print(mlflow.__version__)"], capture_output=True, text=True
    ).stdout.strip()
    workdir = Path(tempfile.mkdtemp(prefix="rest_bench_"))
    results: dict[str, Any] = {}
    servers: list[Server] = []
    try:
        mlineage_server = start_mlineage(workdir)
        servers.append(mlineage_server)
        mlflow_server = start_mlflow(mlflow_python, workdir, args.mlflow_workers)
        servers.append(mlflow_server)
        targets: list[Callable[[], Any]] = [
            lambda: MLflow(mlflow_server.url),
            lambda: Mlineage(mlineage_server.url, calls=1),
            lambda: Mlineage(mlineage_server.url, calls=3),
        ]
        for make in targets:
            target = make()
            print(f"{target.name}: logging {args.runs} runs with {args.clients} client(s) ...", flush=True)
            results[target.name] = measure(target, args.runs, args.clients, args.warmup)
    except Exception as exc:  # noqa: BLE001 - report which server failed, keep what was measured
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        for server in servers:
            print(f"--- {server.name} log tail ---\n{server.tail()}", file=sys.stderr)
        return 2
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    anchor = results["mlflow (3 requests/run)"]["runs_per_s"]
    print()
    print(f"{'server':<28} {'runs/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'x MLflow':>9}")
    for name, result in results.items():
        ratio = result["runs_per_s"] / anchor
        print(f"{name:<28} {result['runs_per_s']:>9.1f} {result['p50_ms']:>8.2f} {result['p99_ms']:>8.2f} {ratio:>8.2f}x")
    ratio = results["mlineage (1 request/run)"]["runs_per_s"] / anchor
    passed = ratio >= GOAL
    print(f"\nmlineage (1 request/run) / MLflow = {ratio:.2f}x (goal >= {GOAL}x): {'PASS' if passed else 'FAIL'}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "runs": args.runs, "clients": args.clients, "params": PARAMS, "metrics": METRICS,
        "mlflow_version": mlflow_version, "python": platform.python_version(), "machine": platform.machine(),
        "cpus": os.cpu_count(), "mlflow_workers": args.mlflow_workers, "results": results, "ratio": ratio, "goal": GOAL, "passed": passed,
    }, indent=2) + "\n")  # fmt: skip
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
