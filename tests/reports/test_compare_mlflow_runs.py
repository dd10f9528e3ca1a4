"""Runs the real mlflow client logged through mlineage serve (api/mlflow) count as runs: compared by experiment.

Needs the mlflow environment (.venvs/mlflow or MLINEAGE_MLFLOW_PYTHON): skipped without it unless
MLINEAGE_REQUIRE_MLFLOW=1 (scripts/test.sh), which makes it fail instead.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from mlflow_artifacts_support import base_url, mlineage_http_server, require_mlflow_python

from mlineage.metadata.store import Store
from mlineage.reports import compare

SCRIPT = Path(__file__).with_name("mlflow_runs.py")


def test_mlflow_runs_of_an_experiment(store_url, tmp_path):
    python = require_mlflow_python()
    with mlineage_http_server(store_url, tmp_path / "artifacts") as server:
        done = subprocess.run([python, str(SCRIPT), "--tracking-uri", base_url(server)], capture_output=True,
                              text=True, timeout=240, cwd=tmp_path,
                              env={**os.environ, "MLFLOW_ENABLE_ASYNC_LOGGING": "false", "PYTHONWARNINGS": "ignore"})
        assert done.returncode == 0, done.stderr[-4000:]
        run_ids = json.loads(done.stdout.strip().splitlines()[-1])["runs"]
    store = Store(store_url)
    try:
        comparison = compare(store, pipeline="churn-mlflow")
        assert comparison.names == run_ids
        assert comparison.summary["label"].tolist() == ["depth-4", "depth-8", "depth-16"]
        assert comparison.summary["state"].tolist() == ["COMPLETE"] * 3
        assert comparison.params["run.max_depth"].tolist() == ["4", "8", "16"]  # MLflow params are text
        assert comparison.diff().params.columns.tolist() == ["run.max_depth"]
        assert comparison.final_metrics["f1"].tolist() == pytest.approx([0.70, 0.78, 0.76])
        assert comparison.best("f1") == run_ids[1]
        assert comparison.best("f1", by="best") == run_ids[1]
        series = comparison.series
        assert series[series["run"] == run_ids[2]]["step"].tolist() == [0, 1, 2]
        assert (comparison.steps["duration_s"] >= 0).all()
    finally:
        store.close()
