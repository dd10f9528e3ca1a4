"""MLflow's ``runs/log-inputs``: a run's datasets (and models) as INPUT artifacts of its execution.

Same URI, same artifact: a dataset whose source names a URI (``{"uri": "gs://…"}``, as
``mlflow.data.from_pandas(df, source="gs://…")`` writes it) becomes an INPUT event to the
artifact that already has that URI — the Examples a TFX pipeline wrote through MLMD, say —
so the run joins that artifact's lineage. Only when no artifact has the URI is one made,
of type ``mlflow.Dataset`` (declared properties ``name``, ``digest``, ``source_type``,
``source``, ``schema``, ``profile``). A dataset whose source gives no URI is identified
by ``mlflow-dataset:/<experiment id>/<name>/<digest>``.

What MLflow said about each input (the dataset message and its input tags, such as
``mlflow.data.context``) is kept on the run's context as the custom property
``input.<name>@<digest>`` (a JSON string), because the artifact may be someone else's:
:func:`read_run_inputs` (registered in ``mapping.RUN_INPUT_READERS``) gives runs'
``inputs`` in MLflow's JSON for ``runs/get`` and ``runs/search``. Model inputs are INPUT
events to logged models (see ``models``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from mlineage.api.mlflow import mapping
from mlineage.api.mlflow.errors import MlflowError
from mlineage.api.mlflow.models import MODEL_TYPE, PREFIXES, get_model, in_store, read_body, text_field
from mlineage.errors import AlreadyExistsError, NotFoundError
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb

DATASET_TYPE = "mlflow.Dataset"
INPUT_PREFIX = "input."
_DATASET_PROPERTIES = {name: pb.STRING for name in ("name", "digest", "source_type", "source", "schema", "profile")}
_DATASET_FIELDS = ("name", "digest", "source_type", "source", "schema", "profile")
# MLflow's limits on a dataset's fields (its server refuses longer ones with INVALID_PARAMETER_VALUE).
_MAX_LENGTH = {"name": 500, "digest": 36, "source_type": 36, "source": 65535, "schema": 1048575,
               "profile": 16777215}
MAX_INPUT_TAG_VALUE = 500


def dataset_type_id(store: Store) -> int:
    try:
        return store.put_artifact_type(
            pb.ArtifactType(name=DATASET_TYPE, base_type=pb.ArtifactType.DATASET, properties=_DATASET_PROPERTIES),
            can_add_fields=True,
        )
    except AlreadyExistsError:
        return store.get_artifact_type(DATASET_TYPE).id


def source_uri(dataset: dict[str, Any]) -> str | None:
    """The URI a dataset's ``source`` names (its ``uri``, ``url`` or ``path``), or None."""
    source = dataset.get("source") or ""
    try:
        parsed = json.loads(source)
    except ValueError:
        return None
    if isinstance(parsed, dict):
        for key in ("uri", "url", "path"):
            if isinstance(parsed.get(key), str) and parsed[key]:
                return str(parsed[key])
    return None


def _check_dataset(entry: Any) -> tuple[dict[str, str], list[dict[str, str]]]:
    if not isinstance(entry, dict) or not isinstance(entry.get("dataset"), dict):
        raise MlflowError("INVALID_PARAMETER_VALUE", "Invalid dataset input: a 'dataset' object is required")
    dataset: dict[str, str] = {}
    for name in _DATASET_FIELDS:
        value = entry["dataset"].get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid dataset field '{name}': a string")
        if len(value) > _MAX_LENGTH[name]:
            raise MlflowError("INVALID_PARAMETER_VALUE",
                              f"Dataset {name} '{value[:40]}…' exceeds the maximum length of {_MAX_LENGTH[name]}")
        dataset[name] = value
    for required in ("name", "digest"):
        if not dataset.get(required):
            raise MlflowError("INVALID_PARAMETER_VALUE", f"Missing value for required parameter 'dataset.{required}'")
    tags = []
    for tag in entry.get("tags") or []:
        if not isinstance(tag, dict) or not isinstance(tag.get("key"), str) or not tag["key"]:
            raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid input tag {tag!r}: a key is required")
        value = tag.get("value", "")
        if not isinstance(value, str) or len(value) > MAX_INPUT_TAG_VALUE:
            raise MlflowError("INVALID_PARAMETER_VALUE",
                              f"Invalid value for input tag '{tag['key']}': a string of at most {MAX_INPUT_TAG_VALUE}")
        tags.append({"key": tag["key"], "value": value})
    return dataset, tags


def _dataset_artifact(store: Store, experiment_id: str, dataset: dict[str, str]) -> int:
    """The artifact a dataset is: the one with its URI, or a new ``mlflow.Dataset``."""
    uri = source_uri(dataset) or f"mlflow-dataset:/{experiment_id}/{dataset['name']}/{dataset['digest']}"
    existing = [a for a in store.get_artifacts_by_uri(uri) if a.state != pb.Artifact.DELETED]
    if existing:
        # The newest artifact with the URI: a TFX step's output, or the dataset an earlier run logged.
        return max(existing, key=lambda a: a.id).id
    artifact = pb.Artifact(type_id=dataset_type_id(store), uri=uri, state=pb.Artifact.LIVE)
    for name, value in dataset.items():
        artifact.properties[name].string_value = value
    (artifact_id,) = store.put_artifacts([artifact])
    return artifact_id


def _link_input(store: Store, execution: pb.Execution, contexts: list[pb.Context], artifact_id: int,
                key: str) -> None:
    events = store.get_events_by_execution_ids([execution.id])
    if not any(e.artifact_id == artifact_id and e.type == pb.Event.INPUT for e in events):
        event = pb.Event(artifact_id=artifact_id, execution_id=execution.id, type=pb.Event.INPUT)
        event.path.steps.add().key = key
        store.put_events([event])
    store.put_attributions_and_associations(
        [pb.Attribution(artifact_id=artifact_id, context_id=c.id) for c in contexts], []
    )


def log_inputs(store: Store, body: dict[str, Any]) -> None:
    run_id = text_field(body, "run_id", required=True)
    datasets = body.get("datasets") or []
    models = body.get("models") or []
    if not isinstance(datasets, list) or not isinstance(models, list):
        raise MlflowError("INVALID_PARAMETER_VALUE", "Invalid value for 'datasets' or 'models': a list")
    checked = [_check_dataset(entry) for entry in datasets]
    execution, run_context = mapping.get_run(store, run_id)
    if not mapping.is_active(execution):
        raise MlflowError("INVALID_PARAMETER_VALUE",
                          f"The run {run_id} must be in the 'active' state. Current state is deleted.")
    experiment_id = mapping.string(execution, "experiment_id", mapping.DEFAULT_EXPERIMENT_ID)
    with store.transaction() as tx:
        context = tx.get_contexts_by_id([run_context.id])[0]  # fresh, and held until it commits
        for dataset, tags in checked:
            artifact_id = _dataset_artifact(store, experiment_id, dataset)
            _link_input(store, execution, [context], artifact_id, dataset["name"])
            key = f"{INPUT_PREFIX}{dataset['name']}@{dataset['digest']}"
            record = {"dataset": dataset, "tags": tags, "artifact_id": artifact_id}
            context.custom_properties[key].string_value = json.dumps(record, sort_keys=True)
        for model in models:
            if not isinstance(model, dict):
                raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid model input {model!r}")
            artifact = get_model(store, str(model.get("model_id", "")))
            _link_input(store, execution, [context], artifact.id, "model")
        if checked:
            store.put_contexts([context])


def read_run_inputs(store: Store, executions: Sequence[pb.Execution]) -> dict[int, dict[str, Any]]:
    """Runs' ``inputs`` in MLflow's JSON (``RunInputs``) by execution id: their datasets and the models they read.

    Registered in ``mapping.RUN_INPUT_READERS`` for ``runs/get`` and ``runs/search``; only
    runs with INPUT events are looked at further (one events query for all of them).
    """
    if not executions:
        return {}
    by_id = {e.id: e for e in executions}
    events = [e for e in store.get_events_by_execution_ids(list(by_id)) if e.type == pb.Event.INPUT]
    if not events:
        return {}
    models = _model_ids_of(store, [e.artifact_id for e in events])
    answer: dict[int, dict[str, Any]] = {}
    for execution_id in sorted({e.execution_id for e in events}):
        inputs: dict[str, Any] = {}
        context = store.get_context_by_type_and_name(mapping.RUN_TYPE, by_id[execution_id].name)
        datasets = []
        recorded = context.custom_properties if context is not None else {}
        for name in sorted(recorded):
            if name.startswith(INPUT_PREFIX):
                record = json.loads(recorded[name].string_value)
                entry: dict[str, Any] = {"dataset": record["dataset"]}
                if record.get("tags"):
                    entry["tags"] = record["tags"]
                datasets.append(entry)
        if datasets:
            inputs["dataset_inputs"] = datasets
        read = [models[e.artifact_id] for e in events if e.execution_id == execution_id and e.artifact_id in models]
        if read:
            inputs["model_inputs"] = [{"model_id": model_id} for model_id in read]
        if inputs:
            answer[execution_id] = inputs
    return answer


def _model_ids_of(store: Store, artifact_ids: list[int]) -> dict[int, str]:
    """{artifact id: MLflow model id} for those of ``artifact_ids`` that are logged models."""
    try:
        type_id = store.get_artifact_type(MODEL_TYPE).id
    except NotFoundError:
        return {}
    return {
        a.id: a.custom_properties["model_id"].string_value
        for a in store.get_artifacts_by_id(artifact_ids)
        if a.type_id == type_id and "model_id" in a.custom_properties
    }


mapping.RUN_INPUT_READERS.append(read_run_inputs)


def router(store: Store) -> APIRouter:
    """``runs/log-inputs`` under MLflow's paths and their ``/ajax-api`` aliases."""
    api = APIRouter(include_in_schema=False)

    async def log_inputs_route(request: Request) -> JSONResponse:
        body = await read_body(request)
        await run_in_threadpool(in_store, lambda: log_inputs(store, body))
        return JSONResponse({})

    for prefix in PREFIXES:
        api.add_api_route(f"{prefix}/runs/log-inputs", log_inputs_route, methods=["POST"])
    return api
