"""MLflow's tracking API: experiments, runs, params, metrics, tags and inputs under ``/api/2.0/mlflow``."""

from __future__ import annotations

from fastapi import APIRouter

from mlineage.metadata.store import Store


def router(store: Store) -> APIRouter:
    return APIRouter()
