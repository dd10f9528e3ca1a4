"""schemathesis against `mlineage serve --auth tokens`, with a writer's token and with none: the no-5xx rule,
documented statuses and bodies still hold (with none, every protected operation is 401 in the error shape)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def _schemathesis() -> list[str]:
    script = Path(sys.executable).with_name("schemathesis")
    if script.exists():
        return [str(script)]
    found = shutil.which("schemathesis")
    if found is None:
        pytest.skip("schemathesis is not installed (pip install -e .[dev])")
    return [found]


@pytest.mark.parametrize("credential", ["writer", "none"])
def test_fuzzing_with_and_without_a_token(auth_server, tmp_path, credential):
    command = [
        *_schemathesis(), "run", f"{auth_server.base_url}/openapi.json", "--checks", CHECKS,
        "--phases", "fuzzing", "--max-examples", "3", "--workers", "1", "--seed", "11", "--no-shrink",
        "--suppress-health-check", "all", "--output-truncate", "true",
    ]  # fmt: skip
    if credential == "writer":
        command += ["--header", f"Authorization: Bearer {auth_server.tokens.writer}"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-12000:]
    assert " passed" in report, report[-4000:]
    assert auth_server.tokens.writer not in auth_server.server.output()
