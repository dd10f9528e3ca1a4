"""MLflow 3's logged-model API (what ``mlflow.<flavor>.log_model`` calls): models as OUTPUT ``Model`` artifacts."""

from __future__ import annotations

from fastapi import APIRouter

from mlineage.metadata.store import Store


def router(store: Store) -> APIRouter:
    return APIRouter()
