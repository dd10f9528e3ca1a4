"""ml_metadata and mlineage imported in one process (a TFX step's situation) and used side by side.

The symbols of MLMD's protobuf package and ours must both register in one
descriptor pool under protobuf 4.25, and an artifact must copy between an
ml_metadata in-process store and an mlineage in-process store.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from grpc_server import require_mlmd_python
from paths import REPO_ROOT, SUPPORT

pytestmark = pytest.mark.mlmd

SCRIPT = SUPPORT / "mlmd_and_mlineage_in_one_process.py"


def test_copy_an_artifact_between_ml_metadata_and_mlineage(tmp_path):
    python = require_mlmd_python()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    probe = subprocess.run([python, "-c", "import mlineage.metadata.store"], capture_output=True, text=True, env=env)
    if probe.returncode:
        pytest.fail(f"mlineage does not import in the ml-metadata environment (run scripts/setup_env.sh):\n{probe.stderr}")
    result = subprocess.run([python, str(SCRIPT), str(tmp_path)], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-4000:]
    out = json.loads(result.stdout)
    assert out["protobuf"].startswith("4.25.")
    assert out["packages"] == ["ml_metadata.Artifact", "mlineage.v1.Artifact"]
    assert out["mlineage_type"] == {"name": "Model", "base_type": "MODEL"}
    assert out["mlineage_artifact"] == {
        "name": "m1",
        "uri": "/models/m1",
        "type": "Model",
        "state": "LIVE",
        "acc": 0.93,
        "framework": "tf",
        "config": {"layers": 3.0, "act": "relu"},
        "times_set": True,
    }
    assert out["mlmd_roundtrip_same_values"] is True
    assert out["over_grpc"] == {"uri": "/models/m1", "acc": 0.93}
