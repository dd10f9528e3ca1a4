"""Helpers for the MLflow tracking tests: the mlflow environment, MLflow's own server, and the scenario script.

    python = require_mlflow_python()
    with mlflow_server(python, tmp_path) as url:
        reference = run_tracking_scenario(python, url, tmp_path / "client")

``mlflow server`` runs on a SQLite file of its own (what the comparison is made
against); ``mlineage serve`` comes from grpc_server.mlineage_server. Without the
mlflow environment (.venvs/mlflow, or MLINEAGE_MLFLOW_PYTHON) the tests skip,
unless MLINEAGE_REQUIRE_MLFLOW=1 (scripts/test.sh sets it), where they fail.
Not a test module.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from grpc_server import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIO_SCRIPT = Path(__file__).with_name("mlflow_tracking_client.py")
MLFLOW_STARTUP_TIMEOUT_S = 180.0  # its first start migrates a new SQLite database: ~40 s on a busy machine


def mlflow_python() -> str:
    return os.environ.get("MLINEAGE_MLFLOW_PYTHON") or str(REPO_ROOT / ".venvs" / "mlflow" / "bin" / "python")


def require_mlflow_python(modules: tuple[str, ...] = ("mlflow",)) -> str:
    """The mlflow environment's python (``modules`` importable there); skips without one, fails if
    MLINEAGE_REQUIRE_MLFLOW=1."""
    import pytest

    python = mlflow_python()
    problem = None
    if not Path(python).exists():
        problem = f"no mlflow environment (MLINEAGE_MLFLOW_PYTHON or .venvs/mlflow): {python}"
    else:
        probe = subprocess.run([python, "-c", f"import {', '.join(modules)}"], capture_output=True, text=True, cwd="/")
        if probe.returncode:
            problem = f"{python} cannot import {' and '.join(modules)}: {probe.stderr.strip()[-500:]}"
    if problem:
        if os.environ.get("MLINEAGE_REQUIRE_MLFLOW") == "1":
            pytest.fail(f"{problem} but MLINEAGE_REQUIRE_MLFLOW=1")
        pytest.skip(problem)
    return python


def client_env() -> dict[str, str]:
    """The environment the mlflow client scripts run in: synchronous logging, no warnings on stderr."""
    return {**os.environ, "MLFLOW_ENABLE_ASYNC_LOGGING": "false", "PYTHONWARNINGS": "ignore"}


@contextmanager
def mlflow_server(python: str, workdir: Path) -> Iterator[str]:
    """MLflow's own tracking server on a new SQLite file under ``workdir``; yields its URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port("127.0.0.1")
    log = (workdir / "mlflow_server.log").open("w")
    process = subprocess.Popen(
        [python, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
         "--artifacts-destination", str(workdir / "mlflow_artifacts")],
        stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=client_env(), start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + MLFLOW_STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise AssertionError(f"mlflow server exited with {process.returncode}:\n"
                                     f"{(workdir / 'mlflow_server.log').read_text()[-4000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("mlflow server did not start in time")
            time.sleep(0.5)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # its own session: the server and its uvicorn worker
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def run_tracking_scenario(python: str, tracking_uri: str, workdir: Path, timeout: float = 300.0) -> dict[str, Any]:
    """Run mlflow_tracking_client.py against ``tracking_uri``; its JSON answer (the script's last stdout line)."""
    workdir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([python, str(SCENARIO_SCRIPT), "--tracking-uri", tracking_uri], capture_output=True,
                            text=True, timeout=timeout, cwd=workdir, env=client_env())
    assert result.returncode == 0, f"the MLflow scenario failed against {tracking_uri}:\n{result.stderr[-6000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where two JSON answers differ, one line each (empty when equal)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        lines = []
        for key in sorted(set(expected) | set(actual)):
            if key not in actual or key not in expected:
                lines.append(f"{path}/{key}: only in {'MLflow' if key in expected else 'mlineage'}")
            else:
                lines.extend(differences(expected[key], actual[key], f"{path}/{key}"))
        return lines
    return [] if expected == actual else [f"{path}: MLflow {expected!r}, mlineage {actual!r}"]
