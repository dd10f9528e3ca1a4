"""The real ``mlflow`` client against a tracking server, for the artifact and logged-model tests (run in .venvs/mlflow).

    python mlflow_artifacts_client.py --tracking-uri http://127.0.0.1:PORT --workdir DIR SCENARIO [--examples-uri URI]

Prints one JSON object with what the client saw. Scenarios:

- ``artifact_repository``: MLflow's own ``mlflow-artifacts`` repository class (what a run's
  ``log_artifact`` uses) uploading, listing and downloading a tree.
- ``logged_model``: ``MlflowClient``'s logged-model calls (create in the Default experiment,
  ``log_model_artifacts`` of a scikit-learn model saved with ``mlflow.sklearn.save_model``,
  finalize, tags, params, search) and ``mlflow.sklearn.load_model("models:/<id>")``.
- ``run``: a run with ``mlflow.log_artifact``/``log_artifacts``, ``list_artifacts``,
  ``download_artifacts``, ``mlflow.sklearn.log_model`` and ``load_model`` back.
- ``tfx_input``: a training run reading ``--examples-uri`` through
  ``mlflow.log_input(mlflow.data.from_pandas(..., source=URI))`` and logging its model.

Not a test module.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any


def _model_and_data() -> tuple[Any, Any, Any]:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    features = rng.normal(size=(60, 3))
    labels = (features[:, 0] + 0.5 * features[:, 1] > 0).astype(int)
    return LogisticRegression().fit(features, labels), features, labels


def artifact_repository(tracking_uri: str, workdir: Path) -> dict[str, Any]:
    from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository

    tree = workdir / "tree"
    (tree / "sub" / "deeper").mkdir(parents=True)
    (tree / "a.txt").write_text("alpha")
    (tree / "sub" / "b.json").write_text(json.dumps({"b": 1}))
    (tree / "sub" / "deeper" / "c.bin").write_bytes(bytes(range(256)) * 4)
    repo = MlflowArtifactsRepository("mlflow-artifacts:/7/run-x/artifacts", tracking_uri=tracking_uri)
    repo.log_artifacts(str(tree), "inputs")
    single = workdir / "single.csv"
    single.write_text("x,y\n1,2\n")
    repo.log_artifact(str(single))
    listed_root = sorted((f.path, f.is_dir, f.file_size) for f in repo.list_artifacts())
    listed_sub = sorted((f.path, f.is_dir, f.file_size) for f in repo.list_artifacts("inputs/sub"))
    listed_file = repo.list_artifacts("single.csv")
    listed_missing = repo.list_artifacts("not-there")
    out = workdir / "out"
    out.mkdir()
    downloaded = Path(repo.download_artifacts("inputs", str(out)))
    files = sorted(str(p.relative_to(downloaded)) for p in downloaded.rglob("*") if p.is_file())
    same = all((downloaded / rel).read_bytes() == (tree / rel).read_bytes() for rel in files)
    return {
        "root": listed_root, "sub": listed_sub, "file": [f.path for f in listed_file],
        "missing": [f.path for f in listed_missing], "downloaded": files, "same_bytes": same,
    }


def logged_model(tracking_uri: str, workdir: Path) -> dict[str, Any]:
    import mlflow
    import mlflow.sklearn
    from mlflow.entities import LoggedModelStatus
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient()
    model, features, _ = _model_and_data()
    created = client.create_logged_model(
        experiment_id="0", name="clf", model_type="classifier", params={"C": "1.0"}, tags={"team": "ml"}
    )
    local = workdir / "saved"
    mlflow.sklearn.save_model(model, str(local))
    client.log_model_artifacts(created.model_id, str(local))
    finalized = client.finalize_logged_model(created.model_id, LoggedModelStatus.READY)
    client.set_logged_model_tags(created.model_id, {"stage": "candidate"})
    client.delete_logged_model_tag(created.model_id, "team")
    fetched = client.get_logged_model(created.model_id)
    found = client.search_logged_models(experiment_ids=["0"], filter_string="name = 'clf'")
    not_found = client.search_logged_models(experiment_ids=["0"], filter_string="tags.stage = 'prod'")
    loaded = mlflow.sklearn.load_model(f"models:/{created.model_id}")
    errors: dict[str, str] = {}
    for label, call in {
        "missing": lambda: client.get_logged_model("m-" + "0" * 32),
        "bad_name": lambda: client.create_logged_model(experiment_id="0", name="a/b"),
        "bad_experiment": lambda: client.create_logged_model(experiment_id="987654"),
    }.items():
        try:
            call()
            errors[label] = "accepted"
        except MlflowException as exc:
            errors[label] = exc.error_code
    return {
        "model_id": created.model_id,
        "created_status": str(created.status),
        "artifact_location": created.artifact_location,
        "finalized_status": str(finalized.status),
        "name": fetched.name, "model_type": fetched.model_type,
        "tags": fetched.tags, "params": fetched.params,
        "search": [m.model_id for m in found], "search_none": [m.model_id for m in not_found],
        "same_predictions": bool((loaded.predict(features) == model.predict(features)).all()),
        "errors": errors,
    }


def run(tracking_uri: str, workdir: Path) -> dict[str, Any]:
    import mlflow
    import mlflow.sklearn

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("artifacts-and-models")
    model, features, _ = _model_and_data()
    (workdir / "plots").mkdir()
    (workdir / "plots" / "roc.txt").write_text("0.0,0.1,0.9")
    (workdir / "plots" / "pr.txt").write_text("0.5,0.6")
    (workdir / "notes.md").write_text("# notes\n")
    with mlflow.start_run() as active:
        run_id = active.info.run_id
        mlflow.log_param("C", 1.0)
        mlflow.log_artifact(str(workdir / "notes.md"))
        mlflow.log_artifacts(str(workdir / "plots"), artifact_path="plots")
        info = mlflow.sklearn.log_model(model, name="model")
    client = mlflow.MlflowClient()
    listed = sorted((f.path, f.is_dir) for f in client.list_artifacts(run_id))
    listed_plots = sorted(f.path for f in client.list_artifacts(run_id, "plots"))
    target = workdir / "download"
    target.mkdir()
    downloaded = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="plots", dst_path=str(target)))
    loaded = mlflow.sklearn.load_model(info.model_uri)
    fetched = mlflow.get_run(run_id)
    return {
        "run_id": run_id,
        "artifact_uri": fetched.info.artifact_uri,
        "listed": listed, "listed_plots": listed_plots,
        "downloaded": sorted(p.name for p in downloaded.iterdir()),
        "roc": (downloaded / "roc.txt").read_text(),
        "model_id": info.model_id, "model_uri": info.model_uri,
        "model_status": str(mlflow.get_logged_model(info.model_id).status),
        "source_run_id": mlflow.get_logged_model(info.model_id).source_run_id,
        "same_predictions": bool((loaded.predict(features) == model.predict(features)).all()),
        "outputs": [o.model_id for o in (fetched.outputs.model_outputs if fetched.outputs else [])],
    }


def tfx_input(tracking_uri: str, workdir: Path, examples_uri: str) -> dict[str, Any]:
    import mlflow
    import mlflow.sklearn
    import pandas as pd

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("taxi-training")
    model, features, labels = _model_and_data()
    frame = pd.DataFrame(features, columns=["f0", "f1", "f2"]).assign(label=labels)
    dataset = mlflow.data.from_pandas(frame, source=examples_uri, name="taxi-examples", targets="label")
    with mlflow.start_run() as active:
        mlflow.log_input(dataset, context="training")
        mlflow.log_param("C", 1.0)
        info = mlflow.sklearn.log_model(model, name="model")
    fetched = mlflow.get_run(active.info.run_id)
    inputs = fetched.inputs.dataset_inputs if fetched.inputs else []
    return {
        "run_id": active.info.run_id,
        "model_id": info.model_id,
        "model_uri": mlflow.get_logged_model(info.model_id).artifact_location,
        "inputs": [{"name": i.dataset.name, "digest": i.dataset.digest, "source": i.dataset.source,
                    "tags": {t.key: t.value for t in i.tags}} for i in inputs],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["artifact_repository", "logged_model", "run", "tfx_input"])
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--examples-uri")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if args.scenario == "artifact_repository":
        result = artifact_repository(args.tracking_uri, workdir)
    elif args.scenario == "logged_model":
        result = logged_model(args.tracking_uri, workdir)
    elif args.scenario == "run":
        result = run(args.tracking_uri, workdir)
    else:
        result = tfx_input(args.tracking_uri, workdir, args.examples_uri)
    json.dump(result, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
