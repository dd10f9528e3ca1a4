"""Runs that TFX-style MLMD calls wrote through the real ml-metadata client (a served store), compared.

Needs the ml-metadata environment (.venvs/mlmd or MLINEAGE_MLMD_PYTHON): skipped without it unless
MLINEAGE_REQUIRE_MLMD=1 (scripts/test.sh), which makes it fail instead.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from grpc_server import mlineage_server, require_mlmd_python

from mlineage.metadata.store import Store
from mlineage.reports import compare, render

SCRIPT = Path(__file__).with_name("tfx_style_runs.py")


@pytest.fixture
def tfx_store(store_url):
    python = require_mlmd_python()
    with mlineage_server(store_url) as server:
        done = subprocess.run([python, str(SCRIPT), "--grpc", server.target], capture_output=True, text=True,
                              timeout=180)
        assert done.returncode == 0, done.stderr[-3000:]
        assert json.loads(done.stdout) == {"runs": ["run-1", "run-2"]}
    opened = Store(store_url)
    yield opened
    opened.close()


def test_tfx_runs_of_a_pipeline_compare_by_node_exec_properties_and_evaluation(tfx_store):
    comparison = compare(tfx_store, pipeline="taxi_tfx")  # no parent links: runs found through executions
    assert comparison.names == ["run-1", "run-2"]
    steps = comparison.steps
    assert steps[steps["run"] == "run-1"]["step_name"].tolist() == ["CsvExampleGen", "Trainer", "Evaluator"]
    assert set(steps["type"]) == {"tfx.components.example_gen.csv_example_gen.component.CsvExampleGen",
                                  "tfx.components.trainer.component.Trainer",
                                  "tfx.components.evaluator.component.Evaluator"}
    assert comparison.params["Trainer.train_args"].tolist() == ['{"num_steps": 100}', '{"num_steps": 200}']
    assert comparison.diff().params.columns.tolist() == ["CsvExampleGen.input_base", "Trainer.train_args"]
    assert comparison.final_metrics["auc"].tolist() == pytest.approx([0.81, 0.79])
    assert comparison.final_metrics["example_count"].tolist() == [5000, 5000]
    assert "slice.Overall.auc" not in comparison.final_metrics.columns
    assert comparison.best("auc") == "run-1"
    examples = comparison.artifacts[(comparison.artifacts["type"] == "Examples")
                                    & (comparison.artifacts["direction"] == "output")]
    assert examples["span"].tolist() == [3, 4]


def test_why_run_2_is_worse_starts_from_the_examples_span(tfx_store):
    comparison = compare(tfx_store, runs=["run-1", "run-2"])
    difference = comparison.lineage_difference()
    assert difference.changes == [  # only what differs is named (split_names and version are the same)
        "Examples: run-2 read span=4 (/pipelines/taxi_tfx/CsvExampleGen/examples/run-2), "
        "run-1 read span=3 (/pipelines/taxi_tfx/CsvExampleGen/examples/run-1)"
    ]
    assert difference.only_a["type"].tolist() == ["Examples"] and difference.only_b["type"].tolist() == ["Examples"]
    data = json.loads(render(comparison, "json", metric="auc"))
    assert data["best"] == "run-1"
    assert data["runs"][1]["metrics"]["auc"] == pytest.approx(0.79)
