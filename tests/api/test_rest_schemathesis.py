"""Schema-driven fuzzing of the REST API: schemathesis against /openapi.json over a real socket.

Every generated request (valid and invalid, with boundary values from the coverage phase) must get
no 5xx, a documented status and content type, and a body that matches the documented schema.
PostgreSQL gets the coverage phase (boundary and invalid values of every parameter and field: its
strict text and number types are where bad input could still reach the database) and the stateful
one; SQLite the random fuzzing phase. MLINEAGE_FUZZ_EXAMPLES raises the
examples per operation for a deeper local run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import postgres_database
from rest_server import serve_http

import mlineage

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)


def _schemathesis() -> list[str]:
    script = Path(sys.executable).with_name("schemathesis")
    if script.exists():
        return [str(script)]
    found = shutil.which("schemathesis")
    if found is None:
        pytest.skip("schemathesis is not installed (pip install -e .[dev])")
    return [found]


def _fuzz(store_url: str, workdir: Path, *, phases: str, examples: int, seed: int) -> None:
    store = mlineage.connect(store_url)
    try:
        with serve_http(store) as base_url:
            # Some data, so reads by id and lists meet real rows too.
            import httpx

            with httpx.Client(base_url=base_url) as client:
                type_id = client.post("/api/v1/artifact_types", json={"name": "Model"}).json()["id"]
                for index in range(3):
                    client.post("/api/v1/artifacts", json={"type_id": type_id, "uri": f"/m/{index}"})
            command = [
                *_schemathesis(), "run", f"{base_url}/openapi.json",
                "--checks", CHECKS,
                "--phases", phases,
                "--max-examples", str(int(os.environ.get("MLINEAGE_FUZZ_EXAMPLES", examples))),
                "--workers", "1",
                "--seed", str(seed),
                "--no-shrink",
                "--suppress-health-check", "all",
                "--output-truncate", "true",
            ]  # fmt: skip
            result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600)
    finally:
        store.close()
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-12000:]
    assert " passed" in report, report[-4000:]


def test_openapi_fuzzing_on_postgresql(tmp_path):
    _fuzz(postgres_database("mlineage_fuzz"), tmp_path, phases="coverage,stateful", examples=5, seed=7)


def test_openapi_fuzzing_on_sqlite(tmp_path):
    _fuzz(f"sqlite:///{tmp_path / 'fuzz.db'}", tmp_path, phases="fuzzing", examples=5, seed=11)
