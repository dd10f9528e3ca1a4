"""MLflow's tracking REST API over the store: ``/api/2.0/mlflow/…``, its ``/ajax-api/`` aliases and ``mlflow-artifacts``.

An experiment is a context of type ``mlflow.Experiment``; a run is an execution
with a run context of type ``mlflow.Run`` (a child of its experiment); params and
tags are execution properties, metrics the store's metric series, ``log-inputs``
datasets INPUT artifacts and logged models OUTPUT ``Model`` artifacts. One
module per part: ``tracking`` (experiments, runs, metrics, params, tags,
inputs), ``models`` (MLflow 3's logged-model API), ``artifacts`` (the artifact
proxy); ``errors`` answers in MLflow's error shape.
"""

from __future__ import annotations

from fastapi import FastAPI

from mlineage.api.mlflow import artifacts, inputs, models, tracking
from mlineage.api.mlflow.errors import install_errors
from mlineage.metadata.store import Store


def install(app: FastAPI, store: Store, *, artifact_root: str | None = None) -> None:
    """Mount MLflow's API on ``app``; artifacts live under ``artifact_root`` (a path or fsspec URL)."""
    install_errors(app)
    app.include_router(tracking.router(store))
    app.include_router(models.router(store))
    app.include_router(inputs.router(store))
    app.include_router(artifacts.router(store, artifact_root))
    app.include_router(tracking.fallback_router())  # last: ENDPOINT_NOT_FOUND for the paths none of them has
