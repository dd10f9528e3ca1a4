"""Fixtures of the MLflow API tests: the real mlflow client's environment and MLflow's own answers to the scenario.

``mlflow_python`` skips (or fails, with MLINEAGE_REQUIRE_MLFLOW=1) without the
mlflow environment, as the MLMD tests do for ml-metadata. ``mlflow_reference``
starts ``mlflow server`` on SQLite once per session and keeps what the scenario
script got from it, for every backend's comparison.
"""

from __future__ import annotations

from typing import Any

import pytest
from mlflow_tracking_support import mlflow_server, require_mlflow_python, run_tracking_scenario


@pytest.fixture(scope="session")
def mlflow_python() -> str:
    return require_mlflow_python()


@pytest.fixture(scope="session")
def mlflow_reference(mlflow_python, tmp_path_factory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("mlflow_reference")
    with mlflow_server(mlflow_python, workdir / "server") as url:
        return run_tracking_scenario(mlflow_python, url, workdir / "client")
