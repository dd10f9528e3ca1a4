"""Running a support script once in the TFX environment and reading what it reports (not a test module).

The integration tests that need TFDV, TF.Transform, TFMA or Keras run one script per test
module under the TFX environment's python; the script's last line of stdout is a JSON
object (what it recorded, and the producer's own numbers to check it against).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from paths import REPO_ROOT, SUPPORT
from test_tfx_environment import tfx_python


def run_tfx_script(script: str, workdir: Path, *args: str, timeout: int = 600,
                   env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``tests/support/<script>`` in the TFX environment on ``workdir`` (``env``: more variables); its JSON
    report, with ``workdir``."""
    result = subprocess.run(
        [tfx_python(), str(SUPPORT / script), str(workdir), *args],
        capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    data = json.loads(result.stdout.strip().splitlines()[-1])
    data["workdir"] = str(workdir)
    return data


def recorded_artifact(answer: dict[str, Any], type_name: str, suffix: str) -> dict[str, Any]:
    """The one artifact of ``type_name`` whose key ends with ``suffix`` in a script's report."""
    [found] = [v for k, v in answer["recorded"].items() if k.startswith(f"{type_name}|") and k.endswith(suffix)]
    return found
