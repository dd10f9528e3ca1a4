"""Fixtures of the MLflow API tests: the real mlflow client's environment and MLflow's own answers to the scenario.

``mlflow_python`` skips (or fails, with MLINEAGE_REQUIRE_MLFLOW=1) without the
mlflow environment, as the MLMD tests do for ml-metadata. ``mlflow_reference``
starts ``mlflow server`` on SQLite once per session and keeps what the scenario
script got from it, for every backend's comparison.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from mlflow_tracking_support import mlflow_server, require_mlflow_python, run_tracking_scenario


def _root_conftest() -> Any:
    """tests/conftest.py as a module of its own: while this directory is tested, ``conftest`` names this file."""
    path = Path(__file__).resolve().parents[2] / "conftest.py"
    spec = importlib.util.spec_from_file_location("mlineage_tests_root_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# What the test modules here import from ``conftest`` as every other test module does.
_ROOT = _root_conftest()
BACKENDS = _ROOT.BACKENDS
postgres_database = _ROOT.postgres_database


@pytest.fixture(scope="session")
def mlflow_python() -> str:
    return require_mlflow_python()


@pytest.fixture(scope="session")
def mlflow_reference(mlflow_python, tmp_path_factory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("mlflow_reference")
    with mlflow_server(mlflow_python, workdir / "server") as url:
        return run_tracking_scenario(mlflow_python, url, workdir / "client")
