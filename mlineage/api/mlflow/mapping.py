"""How MLflow's experiments and runs are stored in the one model: the contract every ``api/mlflow`` module shares.

Types (made by :func:`ensure_types`, idempotently, with the Default experiment):

- ``mlflow.Experiment`` (context type): one context per experiment. ``name`` is
  the experiment's name (unique, deleted experiments included, as in MLflow).
  Declared properties ``lifecycle_stage`` ("active"/"deleted"), ``creation_time``,
  ``last_update_time`` (ms) and ``artifact_location`` (only when given at creation;
  otherwise the location is ``mlflow-artifacts:/<experiment_id>``, derived on read).
  Experiment tags are custom properties ``tag.<key>``.
- Experiment ids: MLflow's ``experiment_id`` is the context id as a string, except
  the Default experiment, id ``"0"``, whose context has external id
  ``mlflow.experiment:0``. :func:`experiment_id` and :func:`get_experiment` apply this.
- ``mlflow.Run`` (execution type): one execution per run, ``name`` = the run id
  (32 hex digits, as MLflow makes them). Declared properties ``run_id``,
  ``run_name``, ``experiment_id``, ``user_id``, ``status`` (MLflow's RunStatus
  name), ``start_time``, ``end_time`` (ms; absent until the run ends),
  ``lifecycle_stage`` and ``artifact_uri`` (``<artifact location>/<run_id>/artifacts``).
  ``last_known_state`` follows ``status`` (RUNNING→RUNNING, SCHEDULED→NEW,
  FINISHED→COMPLETE, FAILED→FAILED, KILLED→CANCELED) so MLMD readers see it.
  Params are custom properties ``param.<key>``, run tags ``tag.<key>`` (string
  values): prefixed, so no MLflow key collides with a declared property.
- ``mlflow.Run`` (context type): one run context per run, ``name`` = the run id,
  a child (parent-context link) of its experiment's context. The execution is
  associated with both its run context and its experiment context; part B
  attributes a run's datasets (INPUT events) and models (OUTPUT events) to the run context.
- Metrics are the store's metric series of the run's execution: one series per
  metric key, points in logging order (``seq`` counts up per key), with MLflow's
  ``step`` and ``timestamp``.

Lookups raise :class:`MlflowError` in MLflow's words: RESOURCE_DOES_NOT_EXIST for
an unknown experiment or run, INVALID_PARAMETER_VALUE for an id MLflow rejects.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mlineage.api.mlflow.errors import MlflowError
from mlineage.errors import NotFoundError
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb

EXPERIMENT_TYPE = "mlflow.Experiment"
RUN_TYPE = "mlflow.Run"  # the execution type and the run context type share the name (types are per kind)
DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"
DEFAULT_EXPERIMENT_EXTERNAL_ID = "mlflow.experiment:0"
PARAM_PREFIX = "param."
TAG_PREFIX = "tag."
ACTIVE = "active"
DELETED = "deleted"

RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
_STATE_OF_STATUS = {
    "RUNNING": pb.Execution.RUNNING,
    "SCHEDULED": pb.Execution.NEW,
    "FINISHED": pb.Execution.COMPLETE,
    "FAILED": pb.Execution.FAILED,
    "KILLED": pb.Execution.CANCELED,
}

_EXPERIMENT_PROPERTIES = {
    "lifecycle_stage": pb.STRING,
    "creation_time": pb.INT,
    "last_update_time": pb.INT,
    "artifact_location": pb.STRING,
}
_RUN_PROPERTIES = {
    "run_id": pb.STRING,
    "run_name": pb.STRING,
    "experiment_id": pb.STRING,
    "user_id": pb.STRING,
    "status": pb.STRING,
    "start_time": pb.INT,
    "end_time": pb.INT,
    "lifecycle_stage": pb.STRING,
    "artifact_uri": pb.STRING,
}


@dataclass(frozen=True)
class Types:
    """The ids of the three MLflow types in one store."""

    experiment: int
    run_context: int
    run: int


_types: weakref.WeakKeyDictionary[Store, Types] = weakref.WeakKeyDictionary()
_types_lock = threading.Lock()


def ensure_types(store: Store) -> Types:
    """The MLflow types of ``store`` (created on first use) and the Default experiment (id "0")."""
    known = _types.get(store)
    if known is not None:
        return known
    with _types_lock:
        known = _types.get(store)
        if known is not None:
            return known
        experiment = store.put_context_type(
            pb.ContextType(name=EXPERIMENT_TYPE, properties=_EXPERIMENT_PROPERTIES), can_add_fields=True
        )
        run_context = store.put_context_type(pb.ContextType(name=RUN_TYPE), can_add_fields=True)
        run = store.put_execution_type(pb.ExecutionType(name=RUN_TYPE, properties=_RUN_PROPERTIES), can_add_fields=True)
        if not _default_contexts(store):
            now = now_ms()
            default = pb.Context(type_id=experiment, name=DEFAULT_EXPERIMENT_NAME,
                                 external_id=DEFAULT_EXPERIMENT_EXTERNAL_ID)
            set_string(default, "lifecycle_stage", ACTIVE)
            default.properties["creation_time"].int_value = now
            default.properties["last_update_time"].int_value = now
            try:
                store.put_contexts([default])
            except Exception:
                # Another process made it first (same name and external id): use theirs.
                if not _default_contexts(store):
                    raise
        known = Types(experiment=experiment, run_context=run_context, run=run)
        _types[store] = known
        return known


def _default_contexts(store: Store) -> list[pb.Context]:
    try:
        return store.get_contexts_by_external_ids([DEFAULT_EXPERIMENT_EXTERNAL_ID])
    except NotFoundError:  # MLMD's answer when no context has the external id
        return []


def now_ms() -> int:
    return int(time.time() * 1000)


# --- values ------------------------------------------------------------------------------------


def set_string(node: pb.Context | pb.Execution, name: str, value: str) -> None:
    node.properties[name].string_value = value


def string(node: pb.Context | pb.Execution, name: str, default: str = "") -> str:
    value = node.properties.get(name)
    return value.string_value if value is not None else default


def integer(node: pb.Context | pb.Execution, name: str) -> int | None:
    value = node.properties.get(name)
    return value.int_value if value is not None else None


def prefixed(node: pb.Context | pb.Execution, prefix: str) -> dict[str, str]:
    """The custom properties named ``<prefix><key>`` as {key: value}: a node's params or tags."""
    return {
        name[len(prefix):]: value.string_value
        for name, value in node.custom_properties.items()
        if name.startswith(prefix)
    }


def set_status(execution: pb.Execution, status: str) -> None:
    """Set a run's MLflow status and the MLMD state that follows it."""
    set_string(execution, "status", status)
    execution.last_known_state = _STATE_OF_STATUS[status]


# --- experiments -------------------------------------------------------------------------------


def experiment_id(context: pb.Context) -> str:
    """MLflow's id of an experiment context."""
    return DEFAULT_EXPERIMENT_ID if context.external_id == DEFAULT_EXPERIMENT_EXTERNAL_ID else str(context.id)


def parse_experiment_id(value: str) -> int | None:
    """The integer of an experiment id (None for "0"); INVALID_PARAMETER_VALUE when it is not one, as MLflow says."""
    text = str(value).strip()
    if not text.isdigit() or not text.isascii():
        raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid experiment ID: '{value}'")
    number = int(text)
    if number > 2**63 - 1:
        raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid experiment ID: '{value}'")
    return None if number == 0 else number


def find_experiment(store: Store, experiment_id_text: str) -> pb.Context | None:
    """The experiment context of an id, or None."""
    types = ensure_types(store)
    number = parse_experiment_id(experiment_id_text)
    if number is None:
        found = _default_contexts(store)
    else:
        found = store.get_contexts_by_id([number])
    if not found or found[0].type_id != types.experiment:
        return None
    if number is not None and found[0].external_id == DEFAULT_EXPERIMENT_EXTERNAL_ID:
        return None  # the Default experiment is "0", not its context id
    return found[0]


def get_experiment(store: Store, experiment_id_text: str) -> pb.Context:
    """The experiment context of an id; RESOURCE_DOES_NOT_EXIST if there is none."""
    found = find_experiment(store, experiment_id_text)
    if found is None:
        raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"No Experiment with id={experiment_id_text} exists")
    return found


def experiment_by_name(store: Store, name: str) -> pb.Context | None:
    ensure_types(store)
    return store.get_context_by_type_and_name(EXPERIMENT_TYPE, name)


def artifact_location(context: pb.Context) -> str:
    return string(context, "artifact_location") or f"mlflow-artifacts:/{experiment_id(context)}"


def experiment_json(context: pb.Context) -> dict:
    """An experiment in MLflow's JSON (``Experiment`` message)."""
    answer: dict = {
        "experiment_id": experiment_id(context),
        "name": context.name,
        "artifact_location": artifact_location(context),
        "lifecycle_stage": string(context, "lifecycle_stage", ACTIVE),
        "last_update_time": integer(context, "last_update_time") or context.last_update_time_since_epoch,
        "creation_time": integer(context, "creation_time") or context.create_time_since_epoch,
    }
    tags = prefixed(context, TAG_PREFIX)
    if tags:
        answer["tags"] = [{"key": k, "value": v} for k, v in sorted(tags.items())]
    return answer


# --- runs --------------------------------------------------------------------------------------


def find_run(store: Store, run_id: str) -> tuple[pb.Execution, pb.Context] | None:
    ensure_types(store)
    if not run_id or len(run_id) > 256:
        return None
    execution = store.get_execution_by_type_and_name(RUN_TYPE, run_id)
    if execution is None:
        return None
    context = store.get_context_by_type_and_name(RUN_TYPE, run_id)
    if context is None:
        return None
    return execution, context


def get_run_execution(store: Store, run_id: str) -> pb.Execution:
    """The execution of an MLflow run id (without its context: one read); RESOURCE_DOES_NOT_EXIST if none."""
    ensure_types(store)
    execution = store.get_execution_by_type_and_name(RUN_TYPE, run_id) if run_id and len(run_id) <= 256 else None
    if execution is None:
        raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"Run with id={run_id} not found")
    return execution


def get_run(store: Store, run_id: str) -> tuple[pb.Execution, pb.Context]:
    """(execution, run context) of an MLflow run id; RESOURCE_DOES_NOT_EXIST if there is none."""
    found = find_run(store, run_id)
    if found is None:
        raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"Run with id={run_id} not found")
    return found


def run_experiment_context_id(execution: pb.Execution) -> int | None:
    """The context id of a run's experiment (None for the Default experiment: look it up by external id)."""
    return parse_experiment_id(string(execution, "experiment_id", DEFAULT_EXPERIMENT_ID))


def run_info_json(execution: pb.Execution) -> dict:
    """A run's ``RunInfo`` in MLflow's JSON."""
    run_id = string(execution, "run_id", execution.name)
    info: dict = {
        "run_id": run_id,
        "run_uuid": run_id,
        "run_name": string(execution, "run_name"),
        "experiment_id": string(execution, "experiment_id", DEFAULT_EXPERIMENT_ID),
        "user_id": string(execution, "user_id"),
        "status": string(execution, "status", "RUNNING"),
        "start_time": integer(execution, "start_time") or 0,
        "artifact_uri": string(execution, "artifact_uri"),
        "lifecycle_stage": string(execution, "lifecycle_stage", ACTIVE),
    }
    end = integer(execution, "end_time")
    if end is not None:
        info["end_time"] = end
    return info


RunInputsReader = Callable[[Store, Sequence[pb.Execution]], dict[int, dict]]
RUN_INPUT_READERS: list[RunInputsReader] = []
"""Functions that give runs' ``inputs`` JSON (``{"dataset_inputs": [...], "model_inputs": [...]}``) by execution id.

The tracking module merges what each returns into ``runs/get`` and ``runs/search``
answers, and ``datasets.*`` filters read ``dataset_inputs`` from them; the module
that records ``log-inputs`` registers its reader here at import.
"""


RUN_OUTPUT_READERS: list[RunInputsReader] = []
"""The same for runs' ``outputs`` JSON (``{"model_outputs": [...]}``), merged into ``runs/get`` and ``runs/search``."""


def is_active(node: pb.Execution | pb.Context) -> bool:
    return string(node, "lifecycle_stage", ACTIVE) == ACTIVE


__all__ = [
    "ACTIVE", "RUN_INPUT_READERS", "RUN_OUTPUT_READERS", "RunInputsReader", "DEFAULT_EXPERIMENT_ID", "DEFAULT_EXPERIMENT_NAME", "DELETED", "EXPERIMENT_TYPE", "PARAM_PREFIX",
    "RUN_STATUSES", "RUN_TYPE", "TAG_PREFIX", "Types", "artifact_location", "ensure_types", "experiment_by_name",
    "experiment_id", "experiment_json", "find_experiment", "find_run", "get_experiment", "get_run", "get_run_execution", "integer",
    "is_active", "now_ms", "parse_experiment_id", "prefixed", "run_experiment_context_id", "run_info_json",
    "set_status", "set_string", "string",
]
