"""mlineage inside the optional TFX environment: protobuf 4.25, pandas 1.5, TFDV 1.16, real outputs.

The TFX stack pins old protobuf/pandas/numpy, so mlineage (and its generated protobuf code) must
work there as well as with current releases. `scripts/setup_env.sh` builds `.venvs/tfx`; in CI
MLINEAGE_REQUIRE_TFX=1 makes a missing environment a failure, not a skip.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from paths import REPO_ROOT, SUPPORT

ROOT = REPO_ROOT


def tfx_python() -> str:
    configured = os.environ.get("MLINEAGE_TFX_PYTHON") or str(ROOT / ".venvs" / "tfx" / "bin" / "python")
    if not Path(configured).exists():
        if os.environ.get("MLINEAGE_REQUIRE_TFX") == "1":
            pytest.fail(f"the TFX environment is required but {configured} does not exist")
        pytest.skip("no TFX environment (scripts/setup_env.sh makes .venvs/tfx)")
    return configured


def test_tfdv_outputs_are_recorded_and_traced_in_the_tfx_environment(tmp_path):
    python = tfx_python()
    result = subprocess.run(
        [python, str(SUPPORT / "tfdv_pipeline.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["protobuf"].startswith("4.25.")
    assert answer["pandas"].startswith("1.5.")
    assert answer["numpy"].startswith("1.26.")
    assert answer["num_examples"] == 6
    assert answer["features"] == ["company", "fare", "trips"]
    # The serving split has a company never seen in training: TFDV reports it.
    assert "company" in answer["anomalies"]
    assert answer["artifact_types"] == ["ExampleAnomalies", "ExampleStatistics", "Examples", "Schema"]
    assert answer["stats_num_examples"] == 6
    assert answer["upstream_types"] == ["ExampleStatistics", "Examples", "Schema"]
    assert answer["executions"] == ["ExampleValidator", "SchemaGen", "StatisticsGen"]
