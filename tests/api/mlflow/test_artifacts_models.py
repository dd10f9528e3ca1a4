"""MLflow's artifact proxy and logged models through `mlineage serve`, driven by the real mlflow client.

The client runs in its own environment (tests/support/mlflow_artifacts_client.py in
.venvs/mlflow); mlineage serve runs on a fresh SQLite file or PostgreSQL database. What
the client saw is checked, and then what the store holds: a logged model is an OUTPUT
``Model`` artifact of the run's execution whose URI is its artifact location.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import httpx
import pytest
from conftest import BACKENDS, postgres_database
from mlflow_artifacts_support import (
    base_url,
    mlineage_http_server,
    require_mlflow_python,
    run_mlflow_scenario,
)

import mlineage
from mlineage import metadata_store_pb2 as pb

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def mlflow_python() -> str:
    return require_mlflow_python()


@pytest.fixture(params=BACKENDS)
def database(request, tmp_path) -> tuple[str | Path, str]:
    """(what mlineage_server takes, the URL to open the same store in-process)."""
    if request.param == "sqlite":
        return tmp_path, f"sqlite:///{tmp_path / 'mlineage.db'}"
    url = postgres_database("mlineage_mlflow_artifacts")
    return url, url


def test_the_mlflow_artifact_repository_uploads_lists_and_downloads_a_tree(mlflow_python, database, tmp_path):
    db, _ = database
    root = tmp_path / "artifact-root"
    with mlineage_http_server(db, root) as server:
        seen = run_mlflow_scenario(mlflow_python, "artifact_repository", base_url(server), tmp_path / "client")
    assert seen["root"] == [["inputs", True, None], ["single.csv", False, 8]]
    assert seen["sub"] == [["inputs/sub/b.json", False, 8], ["inputs/sub/deeper", True, None]]
    assert seen["file"] == [] and seen["missing"] == []
    assert seen["downloaded"] == ["a.txt", "sub/b.json", "sub/deeper/c.bin"]
    assert seen["same_bytes"] is True
    # The files are where the operator said, under the path the mlflow-artifacts URI names.
    assert (root / "7" / "run-x" / "artifacts" / "inputs" / "sub" / "deeper" / "c.bin").read_bytes() == bytes(
        range(256)
    ) * 4


def _raw(port: int, method: str, path: str, body: bytes = b"") -> tuple[int, dict]:
    """One request with the path exactly as written (httpx and requests remove dot segments)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body)
        response = connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else {}
    finally:
        connection.close()


def test_paths_that_leave_the_artifact_root_are_refused_and_write_nothing(tmp_path):
    root = tmp_path / "root"
    prefix = "/api/2.0/mlflow-artifacts/artifacts"
    with mlineage_http_server(tmp_path, root) as server:
        for path in (
            f"{prefix}/1/../../escaped.txt",
            f"{prefix}/%2e%2e/escaped.txt",
            f"{prefix}/a/%252e%252e/%252e%252e/escaped.txt",
            f"{prefix}//etc/escaped.txt",
            f"{prefix}/a%5c..%5cescaped.txt",
            f"{prefix}/C:/escaped.txt",
        ):
            status, answer = _raw(server.http_port, "PUT", path, b"x")
            assert (status, answer.get("error_code")) == (400, "INVALID_PARAMETER_VALUE"), path
            assert "Invalid path" in answer["message"] and "Traceback" not in answer["message"]
        for query in ("../", "/etc", "a/../../b"):
            answer = httpx.get(f"{base_url(server)}{prefix}", params={"path": query}, timeout=30)
            assert answer.status_code == 400 and answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        status, answer = _raw(server.http_port, "GET", f"{prefix}/%2e%2e/%2e%2e/etc/passwd")
        assert (status, answer.get("error_code")) == (400, "INVALID_PARAMETER_VALUE")
        missing = httpx.get(f"{base_url(server)}{prefix}/1/none.txt", timeout=30)
        assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not root.exists() or not any(root.iterdir())


def test_with_no_artifact_root_files_go_beside_the_sqlite_database(tmp_path):
    with mlineage_http_server(tmp_path) as server:
        url = f"{base_url(server)}/api/2.0/mlflow-artifacts/artifacts/3/run/artifacts/notes.txt"
        assert httpx.put(url, content=b"beside the db", timeout=30).status_code == 200
        assert httpx.get(url, timeout=30).content == b"beside the db"
    assert (tmp_path / "mlineage-artifacts" / "3" / "run" / "artifacts" / "notes.txt").read_bytes() == b"beside the db"


def test_an_fsspec_url_is_an_artifact_root(tmp_path):
    pytest.importorskip("fsspec")
    with mlineage_http_server(tmp_path, "memory://mlineage-test/root") as server:
        url = f"{base_url(server)}/api/2.0/mlflow-artifacts/artifacts"
        assert httpx.put(f"{url}/1/r/artifacts/sub/x.txt", content=b"in memory", timeout=30).status_code == 200
        assert httpx.get(f"{url}/1/r/artifacts/sub/x.txt", timeout=30).content == b"in memory"
        listed = httpx.get(url, params={"path": "1/r/artifacts/sub"}, timeout=30).json()
        assert listed == {"files": [{"path": "x.txt", "is_dir": False, "file_size": 9}]}
    assert not (tmp_path / "mlineage-artifacts").exists()


def test_an_artifact_root_url_without_its_filesystem_stops_the_start(tmp_path):
    from grpc_server import start_server

    with pytest.raises(AssertionError, match="artifact root"):
        start_server(f"sqlite:///{tmp_path / 'x.db'}", http=True,
                     extra_args=["--artifact-root", "nosuchfs-xyz://bucket/root"])


def test_logged_models_through_the_mlflow_client(mlflow_python, database, tmp_path):
    db, url = database
    with mlineage_http_server(db, tmp_path / "root") as server:
        seen = run_mlflow_scenario(mlflow_python, "logged_model", base_url(server), tmp_path / "client")
    model_id = seen["model_id"]
    assert seen["created_status"] == "PENDING" and seen["finalized_status"] == "READY"
    assert seen["artifact_location"] == f"mlflow-artifacts:/0/models/{model_id}/artifacts"
    assert (seen["name"], seen["model_type"]) == ("clf", "classifier")
    assert seen["tags"] == {"stage": "candidate"} and seen["params"] == {"C": "1.0"}
    assert seen["search"] == [model_id] and seen["search_none"] == []
    assert seen["same_predictions"] is True
    assert seen["errors"] == {"missing": "RESOURCE_DOES_NOT_EXIST", "bad_name": "INVALID_PARAMETER_VALUE",
                              "bad_experiment": "RESOURCE_DOES_NOT_EXIST"}
    assert (tmp_path / "root" / "0" / "models" / model_id / "artifacts" / "MLmodel").is_file()
    store = mlineage.connect(url)
    try:
        model = store.get_artifact_by_type_and_name("Model", model_id)
        assert model is not None and model.uri == seen["artifact_location"]
        assert model.state == pb.Artifact.LIVE
        assert store.get_artifact_type("Model").base_type == pb.ArtifactType.MODEL
    finally:
        store.close()


def test_a_run_logs_artifacts_and_a_scikit_learn_model_and_loads_it_back(mlflow_python, database, tmp_path):
    db, url = database
    with mlineage_http_server(db, tmp_path / "root") as server:
        seen = run_mlflow_scenario(mlflow_python, "run", base_url(server), tmp_path / "client")
    run_id = seen["run_id"]
    assert seen["artifact_uri"].startswith("mlflow-artifacts:/") and seen["artifact_uri"].endswith(
        f"/{run_id}/artifacts"
    )
    assert seen["listed"] == [["notes.md", False], ["plots", True]]
    assert seen["listed_plots"] == ["plots/pr.txt", "plots/roc.txt"]
    assert seen["downloaded"] == ["pr.txt", "roc.txt"] and seen["roc"] == "0.0,0.1,0.9"
    assert seen["model_uri"] == f"models:/{seen['model_id']}"
    assert seen["model_status"] == "READY" and seen["source_run_id"] == run_id
    assert seen["same_predictions"] is True
    assert seen["outputs"] == [seen["model_id"]]  # runs/get's outputs.model_outputs, as the client reads it
    store = mlineage.connect(url)
    try:
        execution = store.get_execution_by_type_and_name("mlflow.Run", run_id)
        model = store.get_artifact_by_type_and_name("Model", seen["model_id"])
        assert execution is not None and model is not None
        outputs = [e for e in store.get_events_by_execution_ids([execution.id]) if e.type == pb.Event.OUTPUT]
        assert [e.artifact_id for e in outputs] == [model.id]
        run_context = store.get_context_by_type_and_name("mlflow.Run", run_id)
        assert model.id in {a.id for a in store.get_artifacts_by_context(run_context.id)}
    finally:
        store.close()
