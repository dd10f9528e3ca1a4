"""MLflow 3's logged-model API (what ``mlflow.<flavor>.log_model`` calls): models as OUTPUT ``Model`` artifacts.

A logged model is an artifact of type ``Model`` (MLMD's MODEL base type, the type TFX's
trainers write too) whose ``name`` is MLflow's model id (``m-<32 hex>``) and whose ``uri``
is its artifact location, ``<experiment artifact location>/models/<model id>/artifacts``
(``mlflow-artifacts:/…``, so the client uploads the files through the artifact proxy).
Everything MLflow says about it is a custom property: ``model_id``, ``name``,
``experiment_id``, ``source_run_id``, ``model_type``, ``status``, ``status_message``,
``lifecycle_stage``, ``creation_timestamp_ms``, ``last_updated_timestamp_ms``, params
``param.<key>`` and tags ``tag.<key>``. Its MLMD state follows its status (PENDING →
PENDING, READY → LIVE, UPLOAD_FAILED → ABANDONED).

The model is attributed to its experiment's context; the run that made it (the source
run, and any run named in ``runs/outputs``) has an OUTPUT event to it and attributes it
to its run context, so MLMD's lineage of the model reaches what the run read.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from mlineage.api.mlflow import mapping
from mlineage.api.mlflow.errors import MlflowError
from mlineage.errors import AlreadyExistsError, MlineageError, NotFoundError
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb

PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
MODEL_TYPE = "Model"
STATUSES = ("LOGGED_MODEL_STATUS_UNSPECIFIED", "LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY",
            "LOGGED_MODEL_UPLOAD_FAILED")
_STATE_OF_STATUS = {
    "LOGGED_MODEL_PENDING": pb.Artifact.PENDING,
    "LOGGED_MODEL_READY": pb.Artifact.LIVE,
    "LOGGED_MODEL_UPLOAD_FAILED": pb.Artifact.ABANDONED,
    "LOGGED_MODEL_STATUS_UNSPECIFIED": pb.Artifact.UNKNOWN,
}
# MLflow's limits: 100 params in one create or params call; a name without these characters.
MAX_PARAMS_PER_CALL = 100
_BAD_NAME_CHARS = ("/", ":", ".", "%", '"', "'")
_MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")
SEARCH_DEFAULT_RESULTS = 100
SEARCH_MAX_RESULTS = 1000


# --- body and errors ---------------------------------------------------------------------------


async def read_body(request: Request) -> dict[str, Any]:
    """The JSON object of a request (empty for no body); MALFORMED_REQUEST for anything else."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise MlflowError("MALFORMED_REQUEST", "Malformed request: the body is not JSON") from None
    if not isinstance(body, dict):
        raise MlflowError("MALFORMED_REQUEST", "Malformed request: the body is not a JSON object")
    return body


def in_store(call: Callable[[], Any]) -> Any:
    """Run a store call; the store's errors answered in MLflow's words."""
    try:
        return call()
    except MlflowError:
        raise
    except NotFoundError as exc:
        raise MlflowError("RESOURCE_DOES_NOT_EXIST", str(exc)) from None
    except AlreadyExistsError as exc:
        raise MlflowError("RESOURCE_ALREADY_EXISTS", str(exc)) from None
    except MlineageError as exc:
        raise MlflowError("INVALID_PARAMETER_VALUE", str(exc)) from None


def text_field(body: dict[str, Any], name: str, *, required: bool = False) -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise MlflowError("INVALID_PARAMETER_VALUE", f"Missing value for required parameter '{name}'.")
        return ""
    if not isinstance(value, str):
        raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid value {value!r} for parameter '{name}': a string")
    return value


def key_values(body: dict[str, Any], name: str) -> list[tuple[str, str]]:
    """A repeated ``{key, value}`` field as pairs; INVALID_PARAMETER_VALUE for a malformed entry."""
    entries = body.get(name) or []
    if not isinstance(entries, list):
        raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid value for parameter '{name}': a list")
    pairs = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str) or not entry["key"]:
            raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid entry {entry!r} in '{name}': a key is required")
        value = entry.get("value", "")
        pairs.append((entry["key"], value if isinstance(value, str) else json.dumps(value)))
    return pairs


# --- the model type and one model --------------------------------------------------------------


def model_type_id(store: Store) -> int:
    """The ``Model`` artifact type (TFX's, when it is already there), made on first use."""
    try:
        return store.get_artifact_type(MODEL_TYPE).id
    except NotFoundError:
        pass
    try:
        return store.put_artifact_type(pb.ArtifactType(name=MODEL_TYPE, base_type=pb.ArtifactType.MODEL))
    except AlreadyExistsError:
        return store.get_artifact_type(MODEL_TYPE).id


def _set(artifact: pb.Artifact, name: str, value: str | int) -> None:
    if isinstance(value, int):
        artifact.custom_properties[name].int_value = value
    else:
        artifact.custom_properties[name].string_value = value


def _get(artifact: pb.Artifact, name: str, default: str = "") -> str:
    value = artifact.custom_properties.get(name)
    return value.string_value if value is not None else default


def _get_int(artifact: pb.Artifact, name: str) -> int:
    value = artifact.custom_properties.get(name)
    return value.int_value if value is not None else 0


def find_model(store: Store, model_id: str, *, allow_deleted: bool = False) -> pb.Artifact | None:
    if not _MODEL_ID.match(model_id or ""):
        return None
    try:
        found = store.get_artifact_by_type_and_name(MODEL_TYPE, model_id)
    except NotFoundError:
        return None
    if found is None or not _get(found, "model_id"):
        return None
    if not allow_deleted and _get(found, "lifecycle_stage", mapping.ACTIVE) != mapping.ACTIVE:
        return None
    return found


def get_model(store: Store, model_id: str, *, allow_deleted: bool = False) -> pb.Artifact:
    found = find_model(store, model_id, allow_deleted=allow_deleted)
    if found is None:
        raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"Logged model with ID '{model_id}' not found.")
    return found


def model_json(artifact: pb.Artifact) -> dict[str, Any]:
    """A logged model in MLflow's JSON (``LoggedModel``: info and data)."""
    info: dict[str, Any] = {
        "model_id": _get(artifact, "model_id"),
        "experiment_id": _get(artifact, "experiment_id"),
        "name": _get(artifact, "name"),
        "creation_timestamp_ms": _get_int(artifact, "creation_timestamp_ms"),
        "last_updated_timestamp_ms": _get_int(artifact, "last_updated_timestamp_ms"),
        "artifact_uri": artifact.uri,
        "status": _get(artifact, "status", "LOGGED_MODEL_PENDING"),
    }
    for optional in ("model_type", "source_run_id", "status_message"):
        if _get(artifact, optional):
            info[optional] = _get(artifact, optional)
    tags = _prefixed(artifact, mapping.TAG_PREFIX)
    if tags:
        info["tags"] = [{"key": k, "value": v} for k, v in sorted(tags.items())]
    data: dict[str, Any] = {}
    params = _prefixed(artifact, mapping.PARAM_PREFIX)
    if params:
        data["params"] = [{"key": k, "value": v} for k, v in sorted(params.items())]
    return {"info": info, "data": data}


def _prefixed(artifact: pb.Artifact, prefix: str) -> dict[str, str]:
    return {
        name[len(prefix):]: value.string_value
        for name, value in artifact.custom_properties.items()
        if name.startswith(prefix)
    }


def _experiment_context_id(store: Store, experiment_id: str) -> int:
    return mapping.get_experiment(store, experiment_id).id


def link_output(store: Store, execution: pb.Execution, run_context: pb.Context, artifact_id: int,
                step: int | None = None) -> None:
    """An OUTPUT event from the run's execution to the model (once) and the model in the run's context."""
    existing = store.get_events_by_execution_ids([execution.id])
    if not any(e.artifact_id == artifact_id and e.type == pb.Event.OUTPUT for e in existing):
        event = pb.Event(artifact_id=artifact_id, execution_id=execution.id, type=pb.Event.OUTPUT)
        event.path.steps.add().key = "model"
        if step is not None:
            event.path.steps.add().index = step
        store.put_events([event])
    store.put_attributions_and_associations(
        [pb.Attribution(artifact_id=artifact_id, context_id=run_context.id)], []
    )


#: The run context's record of each model a run logged as an output (``runs/outputs``), by model id and step.
OUTPUT_PREFIX = "output."


def _step(output: dict[str, Any]) -> int:
    step = output.get("step")
    if step is None:
        return 0
    if isinstance(step, bool) or not isinstance(step, int | str) or not str(step).lstrip("-").isdigit():
        raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid value {step!r} for parameter 'step': an integer")
    return int(step)


def record_outputs(store: Store, run_id: str, outputs: list[dict[str, Any]]) -> None:
    """``runs/outputs``: each model an output of the run (an OUTPUT event, for lineage) and recorded, with its
    step, on the run's context, which ``runs/get`` answers as the run's ``outputs.model_outputs``."""
    steps = [_step(output) for output in outputs]
    execution, context = mapping.get_run(store, run_id)
    if not mapping.is_active(execution):
        raise MlflowError("INVALID_PARAMETER_VALUE",
                          f"The run {run_id} must be in the 'active' state. Current state is deleted.")
    with store.transaction() as tx:
        [context] = tx.get_contexts_by_id([context.id])  # fresh, and held until it commits
        for output, step in zip(outputs, steps, strict=True):
            artifact = get_model(store, str(output.get("model_id", "")))
            link_output(store, execution, context, artifact.id, step)
            model_id = _get(artifact, "model_id")
            record = {"model_id": model_id, "step": step}
            context.custom_properties[f"{OUTPUT_PREFIX}{model_id}@{step}"].string_value = json.dumps(record)
        if outputs:
            tx.put_contexts([context])


def read_run_outputs(store: Store, executions: Sequence[pb.Execution]) -> dict[int, dict[str, Any]]:
    """Runs' ``outputs`` in MLflow's JSON (``RunOutputs``: ``model_outputs``) by execution id, from what
    ``runs/outputs`` recorded on each run's context (registered in ``mapping.RUN_OUTPUT_READERS``)."""
    answer: dict[int, dict[str, Any]] = {}
    if not executions:
        return answer
    # Only runs with an OUTPUT event can have logged one (one events query for all of them).
    wrote = {e.execution_id for e in store.get_events_by_execution_ids([e.id for e in executions])
             if e.type == pb.Event.OUTPUT}
    for execution in executions:
        if execution.id not in wrote:
            continue
        context = store.get_context_by_type_and_name(mapping.RUN_TYPE, execution.name)
        if context is None:
            continue
        records = [json.loads(context.custom_properties[name].string_value)
                   for name in sorted(context.custom_properties) if name.startswith(OUTPUT_PREFIX)]
        if records:
            answer[execution.id] = {"model_outputs": sorted(records, key=lambda r: (r["step"], r["model_id"]))}
    return answer


mapping.RUN_OUTPUT_READERS.append(read_run_outputs)


def create_model(store: Store, body: dict[str, Any]) -> pb.Artifact:
    experiment_id = text_field(body, "experiment_id", required=True)
    name = text_field(body, "name")
    if "name" in body and body["name"] is not None and (not name or any(c in name for c in _BAD_NAME_CHARS)):
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"Invalid model name ({name!r}) provided. Model name must be a non-empty string "
            f"and cannot contain the following characters: {_BAD_NAME_CHARS}",
        )
    params = key_values(body, "params")
    tags = key_values(body, "tags")
    if len(params) > MAX_PARAMS_PER_CALL:
        raise MlflowError("INVALID_PARAMETER_VALUE",
                          f"A logged model takes at most {MAX_PARAMS_PER_CALL} params in one request, "
                          f"not {len(params)}")
    source_run_id = text_field(body, "source_run_id")
    experiment = mapping.get_experiment(store, experiment_id)
    if not mapping.is_active(experiment):
        raise MlflowError("INVALID_STATE",
                          f"The experiment {experiment_id} must be in the 'active' state. "
                          "Current state is deleted.")
    run = mapping.get_run(store, source_run_id) if source_run_id else None
    model_id = f"m-{uuid.uuid4().hex}"
    now = mapping.now_ms()
    artifact = pb.Artifact(
        type_id=model_type_id(store),
        name=model_id,
        uri=f"{mapping.artifact_location(experiment).rstrip('/')}/models/{model_id}/artifacts",
        state=pb.Artifact.PENDING,
    )
    _set(artifact, "model_id", model_id)
    _set(artifact, "name", name or f"model-{uuid.uuid4().hex[:8]}")
    _set(artifact, "experiment_id", mapping.experiment_id(experiment))
    _set(artifact, "status", "LOGGED_MODEL_PENDING")
    _set(artifact, "lifecycle_stage", mapping.ACTIVE)
    _set(artifact, "creation_timestamp_ms", now)
    _set(artifact, "last_updated_timestamp_ms", now)
    if source_run_id:
        _set(artifact, "source_run_id", source_run_id)
    model_type = text_field(body, "model_type")
    if model_type:
        _set(artifact, "model_type", model_type)
    for key, value in params:
        _set(artifact, mapping.PARAM_PREFIX + key, value)
    for key, value in tags:
        _set(artifact, mapping.TAG_PREFIX + key, value)
    with store.transaction():
        (artifact.id,) = store.put_artifacts([artifact])
        store.put_attributions_and_associations(
            [pb.Attribution(artifact_id=artifact.id, context_id=experiment.id)], []
        )
        if run is not None:
            link_output(store, run[0], run[1], artifact.id)
    return get_model(store, model_id)


def update_model(store: Store, model_id: str, change: Callable[[pb.Artifact], None], *,
                 allow_deleted: bool = False) -> pb.Artifact:
    """Read, change and write one model in one unit of work (its last-updated time moves on)."""
    with store.transaction() as tx:
        found = get_model(store, model_id, allow_deleted=allow_deleted)
        # Read again through the unit of work: fresh, and held until it commits (PostgreSQL, MySQL).
        artifact = next(iter(tx.get_artifacts_by_id([found.id])), found)
        change(artifact)
        _set(artifact, "last_updated_timestamp_ms", mapping.now_ms())
        store.put_artifacts([artifact])
    return get_model(store, model_id, allow_deleted=True)


def _status(value: Any) -> str:
    if isinstance(value, int) and 0 <= value < len(STATUSES):
        return STATUSES[value]
    if isinstance(value, str) and value in STATUSES:
        return value
    raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid value {value!r} for parameter 'status'")


# --- search ------------------------------------------------------------------------------------

_CLAUSE = re.compile(
    r"\s*(?P<field>[A-Za-z_][\w.]*|`[^`]+`(?:\.`[^`]+`)?|[A-Za-z_]+\.`[^`]+`)\s*"
    r"(?P<op>!=|<=|>=|=|<|>|\bNOT\s+LIKE\b|\bILIKE\b|\bLIKE\b)\s*"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|-?\d+(?:\.\d+)?)\s*",
    re.IGNORECASE,
)
_ATTRIBUTES = {
    "name": "name", "model_id": "model_id", "status": "status", "model_type": "model_type",
    "source_run_id": "source_run_id", "creation_timestamp": "creation_timestamp_ms",
    "creation_time": "creation_timestamp_ms", "last_updated_timestamp": "last_updated_timestamp_ms",
}
_NUMERIC = {"creation_timestamp_ms", "last_updated_timestamp_ms"}


def _like(pattern: str, text: str, *, fold: bool) -> bool:
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE | re.DOTALL if fold else re.DOTALL) is not None


def parse_filter(text: str) -> list[Callable[[pb.Artifact], bool]]:
    """MLflow's logged-model filter (comparisons joined by AND) as predicates on a model artifact."""
    predicates: list[Callable[[pb.Artifact], bool]] = []
    if not text or not text.strip():
        return predicates
    parts = re.split(r"\s+AND\s+(?=(?:[^'\"]|'[^']*'|\"[^\"]*\")*$)", text.strip(), flags=re.IGNORECASE)
    for part in parts:
        match = _CLAUSE.fullmatch(part)
        if match is None:
            raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid filter '{text}': cannot read '{part.strip()}'")
        field = match["field"].replace("`", "")
        op = " ".join(match["op"].upper().split())
        raw = match["value"]
        value: str | float = raw[1:-1] if raw[0] in "'\"" else float(raw)
        prefix, _, key = field.partition(".")
        if prefix in ("params", "param", "tags", "tag") and key:
            name = (mapping.PARAM_PREFIX if prefix.startswith("param") else mapping.TAG_PREFIX) + key
        elif prefix in ("attributes", "attribute", "attr") and key in _ATTRIBUTES:
            name = _ATTRIBUTES[key]
        elif field in _ATTRIBUTES:
            name = _ATTRIBUTES[field]
        else:
            raise MlflowError("INVALID_PARAMETER_VALUE",
                              f"Invalid filter '{text}': '{field}' is not a field of a logged model "
                              "(attributes, params.<key>, tags.<key>)")
        predicates.append(_predicate(name, op, value, text))
    return predicates


def _predicate(name: str, op: str, value: str | float, text: str) -> Callable[[pb.Artifact], bool]:
    numeric = name in _NUMERIC
    if numeric != isinstance(value, float):
        raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid filter '{text}': '{name}' compares with "
                          f"{'a number' if numeric else 'a quoted string'}")
    if not numeric and op in ("<", "<=", ">", ">="):
        raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid filter '{text}': '{op}' on a string")

    def test(artifact: pb.Artifact) -> bool:
        if numeric:
            have: Any = _get_int(artifact, name)
        else:
            if name not in artifact.custom_properties:
                return False
            have = _get(artifact, name)
        if op == "=":
            return bool(have == value)
        if op == "!=":
            return bool(have != value)
        if op in ("LIKE", "ILIKE", "NOT LIKE"):
            matched = _like(str(value), str(have), fold=op == "ILIKE")
            return not matched if op == "NOT LIKE" else matched
        return bool({"<": have < value, "<=": have <= value, ">": have > value, ">=": have >= value}[op])

    return test


def _order_key(order_by: list[Any]) -> list[tuple[str, bool]]:
    keys: list[tuple[str, bool]] = []
    for entry in order_by or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("field_name"), str):
            raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid order_by entry {entry!r}")
        field = entry["field_name"].removeprefix("attributes.")
        if field not in _ATTRIBUTES:
            raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid order_by field '{entry['field_name']}'")
        keys.append((_ATTRIBUTES[field], bool(entry.get("ascending", True))))
    return keys or [("creation_timestamp_ms", False)]


def search_models(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    experiment_ids = body.get("experiment_ids") or []
    if not isinstance(experiment_ids, list) or not all(isinstance(e, str) for e in experiment_ids):
        raise MlflowError("INVALID_PARAMETER_VALUE", "experiment_ids must be a list of strings")
    max_results = body.get("max_results", SEARCH_DEFAULT_RESULTS)
    if not isinstance(max_results, int) or not 0 < max_results <= SEARCH_MAX_RESULTS:
        raise MlflowError("INVALID_PARAMETER_VALUE",
                          f"Invalid value {max_results!r} for parameter 'max_results': 1 to {SEARCH_MAX_RESULTS}")
    offset = _offset(body.get("page_token"))
    predicates = parse_filter(text_field(body, "filter"))
    order = _order_key(body.get("order_by") or [])
    models: list[pb.Artifact] = []
    type_id = model_type_id(store)
    for experiment_id in experiment_ids:
        context = mapping.find_experiment(store, experiment_id)
        if context is None:
            continue
        for artifact in store.get_artifacts_by_context(context.id):
            if artifact.type_id != type_id or not _get(artifact, "model_id"):
                continue
            if _get(artifact, "lifecycle_stage", mapping.ACTIVE) != mapping.ACTIVE:
                continue
            if all(test(artifact) for test in predicates):
                models.append(artifact)
    models.sort(key=lambda a: a.id)
    for name, ascending in reversed(order):
        if name in _NUMERIC:
            models.sort(key=lambda a, n=name: _get_int(a, n), reverse=not ascending)  # type: ignore[misc]
        else:
            models.sort(key=lambda a, n=name: _get(a, n), reverse=not ascending)  # type: ignore[misc]
    page = models[offset:offset + max_results]
    answer: dict[str, Any] = {"models": [model_json(a) for a in page]}
    if offset + max_results < len(models):
        answer["next_page_token"] = base64.urlsafe_b64encode(
            json.dumps({"offset": offset + max_results}).encode()).decode()
    return answer


def _offset(token: Any) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(str(token).encode()))["offset"]
    except (ValueError, KeyError, TypeError):
        raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid page token {token!r}") from None
    if not isinstance(offset, int) or offset < 0:
        raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid page token {token!r}")
    return offset


# --- routes ------------------------------------------------------------------------------------


def router(store: Store) -> APIRouter:
    """The logged-model routes and ``runs/outputs`` under MLflow's paths and their ``/ajax-api`` aliases."""
    api = APIRouter(include_in_schema=False)

    def answer(call: Callable[[], Any]) -> Awaitable[JSONResponse]:
        async def run() -> JSONResponse:
            return JSONResponse(await run_in_threadpool(in_store, call))
        return run()

    async def create(request: Request) -> JSONResponse:
        body = await read_body(request)
        return await answer(lambda: {"model": model_json(create_model(store, body))})

    async def get(model_id: str, allow_deleted: bool = False) -> JSONResponse:
        return await answer(lambda: {"model": model_json(get_model(store, model_id, allow_deleted=allow_deleted))})

    async def finalize(model_id: str, request: Request) -> JSONResponse:
        body = await read_body(request)
        status = _status(body.get("status"))

        def change(artifact: pb.Artifact) -> None:
            _set(artifact, "status", status)
            artifact.state = _STATE_OF_STATUS[status]

        return await answer(lambda: {"model": model_json(update_model(store, model_id, change))})

    async def delete(model_id: str) -> JSONResponse:
        def change(artifact: pb.Artifact) -> None:
            _set(artifact, "lifecycle_stage", mapping.DELETED)
            artifact.state = pb.Artifact.MARKED_FOR_DELETION

        return await answer(lambda: (update_model(store, model_id, change), {})[1])

    async def search(request: Request) -> JSONResponse:
        body = await read_body(request)
        return await answer(lambda: search_models(store, body))

    async def set_tags(model_id: str, request: Request) -> JSONResponse:
        tags = key_values(await read_body(request), "tags")

        def change(artifact: pb.Artifact) -> None:
            for key, value in tags:
                _set(artifact, mapping.TAG_PREFIX + key, value)

        return await answer(lambda: {"model": model_json(update_model(store, model_id, change))})

    async def delete_tag(model_id: str, tag_key: str) -> JSONResponse:
        def change(artifact: pb.Artifact) -> None:
            if mapping.TAG_PREFIX + tag_key not in artifact.custom_properties:
                raise MlflowError("RESOURCE_DOES_NOT_EXIST",
                                  f"No tag with key {tag_key!r} found for model with ID {model_id!r}.")
            del artifact.custom_properties[mapping.TAG_PREFIX + tag_key]

        return await answer(lambda: (update_model(store, model_id, change), {})[1])

    async def log_params(model_id: str, request: Request) -> JSONResponse:
        params = key_values(await read_body(request), "params")
        if len(params) > MAX_PARAMS_PER_CALL:
            raise MlflowError("INVALID_PARAMETER_VALUE",
                              f"At most {MAX_PARAMS_PER_CALL} params in one request, not {len(params)}")

        def change(artifact: pb.Artifact) -> None:
            for key, value in params:
                _set(artifact, mapping.PARAM_PREFIX + key, value)

        return await answer(lambda: (update_model(store, model_id, change), {})[1])

    async def log_outputs(request: Request) -> JSONResponse:
        body = await read_body(request)
        run_id = text_field(body, "run_id", required=True)
        outputs = body.get("models") or []
        if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
            raise MlflowError("INVALID_PARAMETER_VALUE", "Invalid value for parameter 'models': a list")

        def write() -> dict[str, Any]:
            record_outputs(store, run_id, outputs)
            return {}

        return await answer(write)

    for prefix in PREFIXES:
        api.add_api_route(f"{prefix}/logged-models", create, methods=["POST"])
        api.add_api_route(f"{prefix}/logged-models/search", search, methods=["POST"])
        api.add_api_route(f"{prefix}/logged-models/{{model_id}}", get, methods=["GET"])
        api.add_api_route(f"{prefix}/logged-models/{{model_id}}", finalize, methods=["PATCH"])
        api.add_api_route(f"{prefix}/logged-models/{{model_id}}", delete, methods=["DELETE"])
        api.add_api_route(f"{prefix}/logged-models/{{model_id}}/tags", set_tags, methods=["PATCH"])
        api.add_api_route(f"{prefix}/logged-models/{{model_id}}/tags/{{tag_key:path}}", delete_tag,
                          methods=["DELETE"])
        api.add_api_route(f"{prefix}/logged-models/{{model_id}}/params", log_params, methods=["POST"])
        api.add_api_route(f"{prefix}/runs/outputs", log_outputs, methods=["POST"])
    return api
