"""MLflow's tracking API: experiments, runs, params, metrics and tags under ``/api/2.0/mlflow`` (and ``/ajax-api/``).

Each endpoint is MLflow's path and method; a POST reads its JSON body, a GET its
query string (repeated fields as repeated parameters, as MLflow's client sends
them). The work is done in ``experiments`` and ``runs`` in a worker thread; the
one error boundary here turns store errors into MLflow's codes. The routes are
left out of mlineage's own ``/openapi.json``: they answer in MLflow's shapes,
not in mlineage's REST conventions.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from mlineage.api.mlflow import experiments, runs
from mlineage.api.mlflow.errors import MlflowError, from_mlineage
from mlineage.api.mlflow.fields import Fields
from mlineage.errors import MlineageError
from mlineage.metadata.store import Store

PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")

Operation = Callable[[Store, Fields], dict]

ENDPOINTS: list[tuple[str, str, Operation]] = [
    ("/experiments/create", "POST", experiments.create_experiment),
    ("/experiments/search", "POST", experiments.search_experiments),
    ("/experiments/search", "GET", experiments.search_experiments),
    ("/experiments/get", "GET", experiments.get_experiment),
    ("/experiments/get-by-name", "GET", experiments.get_experiment_by_name),
    ("/experiments/delete", "POST", experiments.delete_experiment),
    ("/experiments/restore", "POST", experiments.restore_experiment),
    ("/experiments/update", "POST", experiments.update_experiment),
    ("/experiments/set-experiment-tag", "POST", experiments.set_experiment_tag),
    ("/experiments/delete-experiment-tag", "POST", experiments.delete_experiment_tag),
    ("/runs/create", "POST", runs.create_run),
    ("/runs/get", "GET", runs.get_run),
    ("/runs/update", "POST", runs.update_run),
    ("/runs/delete", "POST", runs.delete_run),
    ("/runs/restore", "POST", runs.restore_run),
    ("/runs/search", "POST", runs.search_runs),
    ("/runs/log-metric", "POST", runs.log_metric),
    ("/runs/log-parameter", "POST", runs.log_param),
    ("/runs/log-batch", "POST", runs.log_batch),
    ("/runs/set-tag", "POST", runs.set_tag),
    ("/runs/delete-tag", "POST", runs.delete_tag),
    ("/metrics/get-history", "GET", runs.get_metric_history),
]


async def request_fields(request: Request) -> Fields:
    """The request's fields: its query string for a GET, its JSON object body otherwise."""
    if request.method == "GET":
        query = request.query_params
        repeated = {key: query.getlist(key) for key in query.keys()}
        return Fields(dict(query.items()), repeated)
    body = await request.body()
    if not body.strip():
        return Fields({})
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MlflowError("MALFORMED_REQUEST", "Malformed request: the body is not JSON.") from None
    if not isinstance(data, dict):
        raise MlflowError("MALFORMED_REQUEST", "Malformed request: the body must be a JSON object.")
    return Fields(data)


def _endpoint(store: Store, operation: Operation) -> Callable:
    def call(fields: Fields) -> dict:
        try:
            return operation(store, fields)
        except MlineageError as exc:
            raise from_mlineage(exc) from None

    async def endpoint(request: Request) -> JSONResponse:
        fields = await request_fields(request)
        return JSONResponse(await run_in_threadpool(call, fields))

    endpoint.__name__ = f"mlflow_{operation.__name__}"
    return endpoint


def router(store: Store) -> APIRouter:
    """MLflow's tracking endpoints over ``store``, under both of MLflow's prefixes."""
    api = APIRouter()
    for prefix in PREFIXES:
        for path, method, operation in ENDPOINTS:
            api.add_api_route(prefix + path, _endpoint(store, operation), methods=[method], include_in_schema=False)
    return api


def fallback_router() -> APIRouter:
    """ENDPOINT_NOT_FOUND (404, MLflow's shape) for any other path under MLflow's prefixes: mounted last."""
    api = APIRouter()

    async def not_found(request: Request, rest: str) -> JSONResponse:
        raise MlflowError("ENDPOINT_NOT_FOUND", f"No API endpoint {request.url.path} for {request.method}.")

    for prefix in PREFIXES:
        api.add_api_route(prefix + "/{rest:path}", not_found, include_in_schema=False,
                          methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    return api
