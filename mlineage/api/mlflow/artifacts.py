"""MLflow's artifact proxy (``/api/2.0/mlflow-artifacts``): upload, download and list under the artifact root."""

from __future__ import annotations

from fastapi import APIRouter

from mlineage.metadata.store import Store


def router(store: Store, artifact_root: str | None) -> APIRouter:
    return APIRouter()
