"""MLflow's experiment calls over the store: create, get, get-by-name, search, update, delete/restore, tags.

Each function takes the store and the request's fields and returns MLflow's JSON
answer; experiments are contexts as ``mapping`` says.
"""

from __future__ import annotations

from mlineage.api.mlflow import mapping, search
from mlineage.api.mlflow.errors import MlflowError
from mlineage.api.mlflow.fields import Fields, page_offset, page_token
from mlineage.api.mlflow.validation import check_tag_key, check_view_type
from mlineage.errors import AlreadyExistsError
from mlineage.metadata.store import Store, WriteTransaction
from mlineage.proto import metadata_store_pb2 as pb

MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_KEY_LENGTH = 250
MAX_EXPERIMENT_TAG_VALUE_LENGTH = 20000
MAX_RESULTS_THRESHOLD = 50000
DEFAULT_MAX_RESULTS = 1000


def _check_name(name: object) -> str:
    if not isinstance(name, str) or name == "":
        raise MlflowError("INVALID_PARAMETER_VALUE",
                          f"Invalid experiment name: {name!r}. Expects a non-empty string.")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise MlflowError("INVALID_PARAMETER_VALUE",
                          f"'name' exceeds the maximum length of {MAX_EXPERIMENT_NAME_LENGTH} characters")
    return name


def _check_experiment_tag(key: object, value: object) -> tuple[str, str]:
    checked = check_tag_key(key, "key")
    if len(checked) > MAX_EXPERIMENT_TAG_KEY_LENGTH:
        raise MlflowError("INVALID_PARAMETER_VALUE",
                          f"'key' exceeds the maximum length of {MAX_EXPERIMENT_TAG_KEY_LENGTH} characters")
    text = "" if value is None else value
    if not isinstance(text, str):
        raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid value {value!r} for parameter 'value' supplied.")
    if len(text) > MAX_EXPERIMENT_TAG_VALUE_LENGTH:
        raise MlflowError("INVALID_PARAMETER_VALUE",
                          f"'value' exceeds the maximum length of {MAX_EXPERIMENT_TAG_VALUE_LENGTH} characters")
    return checked, text


def create_experiment(store: Store, fields: Fields) -> dict:
    types = mapping.ensure_types(store)
    name = _check_name(fields.string("name"))
    location = fields.string("artifact_location")
    tags = [_check_experiment_tag(t.get("key"), t.get("value")) for t in fields.objects("tags")]
    now = mapping.now_ms()
    context = pb.Context(type_id=types.experiment, name=name)
    mapping.set_string(context, "lifecycle_stage", mapping.ACTIVE)
    context.properties["creation_time"].int_value = now
    context.properties["last_update_time"].int_value = now
    if location:
        mapping.set_string(context, "artifact_location", location)
    for key, value in tags:
        context.custom_properties[mapping.TAG_PREFIX + key].string_value = value
    try:
        [context_id] = store.put_contexts([context])
    except AlreadyExistsError:
        raise MlflowError("RESOURCE_ALREADY_EXISTS", f"Experiment(name={name}) already exists.") from None
    return {"experiment_id": str(context_id)}


def _experiment_id(fields: Fields) -> str:
    return fields.id_string("experiment_id")


def get_experiment(store: Store, fields: Fields) -> dict:
    context = mapping.get_experiment(store, _experiment_id(fields))
    return {"experiment": mapping.experiment_json(context)}


def get_experiment_by_name(store: Store, fields: Fields) -> dict:
    name = fields.required_string("experiment_name")
    context = mapping.experiment_by_name(store, name)
    if context is None:
        raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"Could not find experiment with name '{name}'")
    return {"experiment": mapping.experiment_json(context)}


def _held(tx: WriteTransaction, context: pb.Context) -> pb.Context:
    """The experiment as the unit of work reads it: fresh, and held until it commits (PostgreSQL,
    MySQL), so that a change made through another server in between is not overwritten."""
    found = tx.get_contexts_by_id([context.id])
    if not found:
        raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"No Experiment with id={mapping.experiment_id(context)} exists")
    return found[0]


def _touch(context: pb.Context) -> None:
    context.properties["last_update_time"].int_value = mapping.now_ms()


def _set_runs_stage(tx: WriteTransaction, store: Store, context: pb.Context, stage: str) -> None:
    """Delete or restore every run of an experiment with it, as MLflow does."""
    types = mapping.ensure_types(store)
    runs, _ = store.list_nodes("execution", type_name=mapping.RUN_TYPE, context_id=context.id)
    runs = tx.get_executions_by_id([run.id for run in runs]) if runs else []  # fresh, and held
    changed = []
    for run in runs:
        if run.type_id == types.run and mapping.string(run, "lifecycle_stage", mapping.ACTIVE) != stage:
            mapping.set_string(run, "lifecycle_stage", stage)
            changed.append(run)
    if changed:
        store.put_executions(changed)


def delete_experiment(store: Store, fields: Fields) -> dict:
    with store.transaction() as tx:
        context = _held(tx, mapping.get_experiment(store, _experiment_id(fields)))
        if not mapping.is_active(context):
            raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"No Experiment with id={mapping.experiment_id(context)} exists")
        mapping.set_string(context, "lifecycle_stage", mapping.DELETED)
        _touch(context)
        store.put_contexts([context])
        _set_runs_stage(tx, store, context, mapping.DELETED)
    return {}


def restore_experiment(store: Store, fields: Fields) -> dict:
    with store.transaction() as tx:
        context = _held(tx, mapping.get_experiment(store, _experiment_id(fields)))
        if mapping.is_active(context):
            raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"No Experiment with id={mapping.experiment_id(context)} exists")
        mapping.set_string(context, "lifecycle_stage", mapping.ACTIVE)
        _touch(context)
        store.put_contexts([context])
        _set_runs_stage(tx, store, context, mapping.ACTIVE)
    return {}


def update_experiment(store: Store, fields: Fields) -> dict:
    experiment_id = _experiment_id(fields)
    new_name = fields.string("new_name")
    if new_name is None:
        return {}
    _check_name(new_name)
    with store.transaction() as tx:
        context = _held(tx, mapping.get_experiment(store, experiment_id))
        if not mapping.is_active(context):
            raise MlflowError("INVALID_STATE", "Cannot rename a non-active experiment.")
        context.name = new_name
        _touch(context)
        try:
            store.put_contexts([context])
        except AlreadyExistsError:
            raise MlflowError("RESOURCE_ALREADY_EXISTS", f"Experiment(name={new_name}) already exists.") from None
    return {}


def set_experiment_tag(store: Store, fields: Fields) -> dict:
    experiment_id = _experiment_id(fields)
    key, value = _check_experiment_tag(fields.string("key", required=True), fields.string("value", default=""))
    with store.transaction() as tx:
        context = _held(tx, mapping.get_experiment(store, experiment_id))
        if not mapping.is_active(context):
            raise MlflowError("INVALID_PARAMETER_VALUE",
                              f"The experiment {experiment_id} must be in the 'active' state. "
                              f"Current state is {mapping.string(context, 'lifecycle_stage')}.")
        context.custom_properties[mapping.TAG_PREFIX + key].string_value = value
        store.put_contexts([context])
    return {}


def delete_experiment_tag(store: Store, fields: Fields) -> dict:
    experiment_id = _experiment_id(fields)
    key = fields.required_string("key")
    with store.transaction() as tx:
        context = _held(tx, mapping.get_experiment(store, experiment_id))
        if not mapping.is_active(context):
            raise MlflowError("INVALID_PARAMETER_VALUE",
                              f"The experiment {experiment_id} must be in the 'active' state. "
                              f"Current state is {mapping.string(context, 'lifecycle_stage')}.")
        name = mapping.TAG_PREFIX + key
        if name not in context.custom_properties:
            raise MlflowError("RESOURCE_DOES_NOT_EXIST",
                              f"No tag with name: {key} in experiment with id {experiment_id}")
        del context.custom_properties[name]
        store.put_contexts([context])
    return {}


def check_max_results(value: int | None, *, default: int) -> int:
    if value is None:
        return default
    if value < 1:
        raise MlflowError("INVALID_PARAMETER_VALUE",
                          f"Invalid value {value} for parameter 'max_results' supplied. It must be a positive integer")
    if value > MAX_RESULTS_THRESHOLD:
        raise MlflowError("INVALID_PARAMETER_VALUE",
                          f"Invalid value {value} for parameter 'max_results' supplied. It must be at most "
                          f"{MAX_RESULTS_THRESHOLD}")
    return value


def all_experiments(store: Store) -> list[pb.Context]:
    mapping.ensure_types(store)
    contexts, _ = store.list_nodes("context", type_name=mapping.EXPERIMENT_TYPE)
    return contexts


def search_experiments(store: Store, fields: Fields) -> dict:
    stages = check_view_type(fields.raw("view_type"))
    max_results = check_max_results(fields.integer("max_results"), default=DEFAULT_MAX_RESULTS)
    clauses = search.parse_experiment_filter(fields.string("filter"))
    order = search.parse_order_by(fields.strings("order_by") or ["creation_time DESC", "experiment_id ASC"],
                                  runs=False)
    offset = page_offset(fields.string("page_token"))
    subjects = []
    for context in all_experiments(store):
        answer = mapping.experiment_json(context)
        if answer["lifecycle_stage"] not in stages:
            continue
        attributes = {
            "name": answer["name"],
            "experiment_id": answer["experiment_id"],
            "experiment_number": int(answer["experiment_id"]),
            "creation_time": answer["creation_time"],
            "last_update_time": answer["last_update_time"],
            "json": answer,
        }
        subject = search.Subject(attributes=attributes, tags=mapping.prefixed(context, mapping.TAG_PREFIX))
        if search.matches(subject, clauses):
            subjects.append(subject)
    # experiment ids order as the integers they are; the tie-breaker is experiment_id descending (MLflow's)
    keys = [search.OrderKey(k.entity, "experiment_number" if k.key == "experiment_id" else k.key, k.ascending)
            for k in order]
    ties = [] if any(k.key == "experiment_number" for k in keys) else [
        search.OrderKey("attribute", "experiment_number", False)]
    ordered = search.sort(subjects, keys, ties)
    page = ordered[offset: offset + max_results]
    result: dict = {"experiments": [s.attributes["json"] for s in page]}
    if offset + max_results < len(ordered):
        result["next_page_token"] = page_token(offset + max_results)
    return result


__all__ = [
    "all_experiments", "check_max_results", "create_experiment", "delete_experiment", "delete_experiment_tag",
    "get_experiment", "get_experiment_by_name", "restore_experiment", "search_experiments", "set_experiment_tag",
    "update_experiment",
]
