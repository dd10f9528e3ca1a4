"""Helpers for the MLflow artifact, logged-model and TFX-to-MLflow tests: the mlflow environment and its scripts.

    python = require_mlflow_python()
    with mlineage_http_server(db, tmp_path / "artifacts") as base_url:
        seen = run_mlflow_scenario(python, "run", base_url, tmp_path / "client")

The real ``mlflow`` client lives in its own environment (.venvs/mlflow, or
MLINEAGE_MLFLOW_PYTHON); without one the tests skip, unless MLINEAGE_REQUIRE_MLFLOW=1
(as scripts/test.sh sets), where they fail. Not a test module.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow_tracking_support
from grpc_server import mlineage_server

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_SCRIPT = Path(__file__).with_name("mlflow_artifacts_client.py")
EXAMPLES_SCRIPT = Path(__file__).with_name("mlflow_artifacts_tfx.py")


def require_mlflow_python() -> str:
    """The mlflow environment's python, with scikit-learn (the logged-model tests need it)."""
    return mlflow_tracking_support.require_mlflow_python(("mlflow", "sklearn"))


@contextmanager
def mlineage_http_server(db: str | Path, artifact_root: Path | str | None = None) -> Iterator[Any]:
    """``mlineage serve`` with HTTP (and ``--artifact-root`` when given); yields the running server."""
    extra = ["--artifact-root", str(artifact_root)] if artifact_root is not None else []
    with mlineage_server(db, http=True, extra_args=extra) as server:
        yield server


def base_url(server: Any) -> str:
    return f"http://{server.host}:{server.http_port}"


def _run(args: list[str], cwd: Path, timeout: float) -> dict[str, Any]:
    cwd.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                            env=mlflow_tracking_support.client_env())
    assert result.returncode == 0, f"{args[1]} {args[2]} failed:\n{result.stderr[-6000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_mlflow_scenario(python: str, scenario: str, tracking_uri: str, workdir: Path, *,
                        examples_uri: str | None = None, timeout: float = 240.0) -> dict[str, Any]:
    """Run one scenario of mlflow_artifacts_client.py in the mlflow environment; its JSON answer."""
    args = [python, str(CLIENT_SCRIPT), scenario, "--tracking-uri", tracking_uri, "--workdir", str(workdir)]
    if examples_uri:
        args += ["--examples-uri", examples_uri]
    return _run(args, workdir, timeout)


def run_mlmd_script(python: str, command: str, target: str, workdir: Path, *args: str,
                    timeout: float = 120.0) -> dict[str, Any]:
    """Run one command of mlflow_artifacts_tfx.py with the real ml-metadata client; its JSON answer."""
    return _run([python, str(EXAMPLES_SCRIPT), command, "--grpc", target, *args], workdir, timeout)
