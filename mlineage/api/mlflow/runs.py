"""MLflow's run calls over the store: create/get/update/delete/restore/search, params, tags, metrics and their history.

A run is an execution (and a run context) as ``mapping`` says. Writes that read
what they change (a param already logged, a tag to delete, the next ``seq`` of a
metric) run in one ``store.transaction()``, re-reading the execution inside it,
so two callers cannot interleave between the check and the write.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from mlineage.api.mlflow import mapping, search
from mlineage.api.mlflow.errors import MlflowError
from mlineage.api.mlflow.experiments import check_max_results
from mlineage.api.mlflow.fields import Fields, invalid_value, number_json, page_offset, page_token, to_number
from mlineage.api.mlflow.validation import (
    check_batch_limits,
    check_metric,
    check_param,
    check_tag,
    check_view_type,
)
from mlineage.metadata import metric_reads
from mlineage.metadata.store import Store, WriteTransaction
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metric_series_pb2 as mpb

RUN_NAME_TAG = "mlflow.runName"
DEFAULT_MAX_RESULTS = 1000
MAX_HISTORY_RESULTS = 25000  # what MLflow's server answers get-history with at most, per page

_ADJECTIVES = ("able", "bold", "brave", "bright", "calm", "clever", "crisp", "eager", "fair", "gentle", "glad",
               "honest", "keen", "kind", "lively", "lucky", "merry", "neat", "proud", "quick", "quiet", "rare",
               "sharp", "shy", "silent", "smart", "steady", "sunny", "swift", "tidy", "warm", "wise")
_NOUNS = ("ant", "bass", "bear", "bee", "cat", "crab", "crow", "deer", "dove", "eel", "fox", "frog", "goat",
          "hare", "hawk", "lark", "lynx", "mole", "moth", "newt", "owl", "ram", "seal", "slug", "snail", "swan",
          "toad", "trout", "vole", "wasp", "wolf", "wren")


def _random_name() -> str:
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randrange(1000)}"


def _run_id(fields: Fields) -> str:
    value = fields.string("run_id") or fields.string("run_uuid")
    if value is None:
        raise MlflowError("INVALID_PARAMETER_VALUE",
                          "Missing value for required parameter 'run_id'. See the API docs for more information "
                          "about request parameters.")
    return value


def _not_active(execution: pb.Execution) -> MlflowError:
    return MlflowError("INVALID_PARAMETER_VALUE",
                       f"The run {execution.name} must be in the 'active' state. "
                       f"Current state is {mapping.string(execution, 'lifecycle_stage')}.")


def _run_in(tx: WriteTransaction, store: Store, run_id: str, *, active: bool = True) -> pb.Execution:
    """The run's execution as this transaction sees it; RESOURCE_DOES_NOT_EXIST, or not active."""
    execution = mapping.get_run_execution(store, run_id)
    [fresh] = tx.get_executions_by_id([execution.id])
    if active and not mapping.is_active(fresh):
        raise _not_active(fresh)
    return fresh


# --- reading runs as MLflow's JSON -------------------------------------------------------------


def _latest_metrics(store: Store, executions: Sequence[pb.Execution]) -> dict[int, dict[str, tuple]]:
    """Each run's latest value of each metric, as MLflow picks it (greatest step, then timestamp, then value)."""
    latest: dict[int, dict[str, tuple]] = {e.id: {} for e in executions}
    if executions:
        with store.reading() as connection:
            latest.update(metric_reads.latest_points(connection, [e.id for e in executions]))
    return latest


def _merged(readers: Sequence[mapping.RunInputsReader], store: Store,
            executions: Sequence[pb.Execution]) -> dict[int, dict]:
    merged: dict[int, dict] = {}
    for reader in readers:
        for execution_id, inputs in reader(store, executions).items():
            target = merged.setdefault(execution_id, {})
            for key, values in inputs.items():
                target.setdefault(key, []).extend(values)
    return merged


def _run_json(execution: pb.Execution, metrics: dict[str, tuple], inputs: dict, outputs: dict | None = None) -> dict:
    data: dict[str, Any] = {}
    if metrics:
        data["metrics"] = [
            {"key": key, "value": number_json(value), "timestamp": stamp, "step": step}
            for key, (value, stamp, step) in sorted(metrics.items())
        ]
    params = mapping.prefixed(execution, mapping.PARAM_PREFIX)
    if params:
        data["params"] = [{"key": k, "value": v} for k, v in sorted(params.items())]
    tags = mapping.prefixed(execution, mapping.TAG_PREFIX)
    if tags:
        data["tags"] = [{"key": k, "value": v} for k, v in sorted(tags.items())]
    answer = {"info": mapping.run_info_json(execution), "data": data, "inputs": inputs}
    if outputs:
        answer["outputs"] = outputs
    return answer


def runs_json(store: Store, executions: Sequence[pb.Execution]) -> list[dict]:
    """MLflow's ``Run`` JSON of each execution, in order (metrics, inputs read in one go)."""
    latest = _latest_metrics(store, executions)
    inputs = _merged(mapping.RUN_INPUT_READERS, store, executions)
    outputs = _merged(mapping.RUN_OUTPUT_READERS, store, executions)
    return [_run_json(e, latest[e.id], inputs.get(e.id, {}), outputs.get(e.id)) for e in executions]


# --- run calls ---------------------------------------------------------------------------------


def create_run(store: Store, fields: Fields) -> dict:
    types = mapping.ensure_types(store)
    experiment_id = (str(fields.raw("experiment_id")) if isinstance(fields.raw("experiment_id"), int)
                     else fields.string("experiment_id")) or mapping.DEFAULT_EXPERIMENT_ID
    tags = [check_tag(t.get("key"), t.get("value"), f"tags[{i}]") for i, t in enumerate(fields.objects("tags"))]
    run_name = fields.string("run_name")
    name_tag = next((value for key, value in tags if key == RUN_NAME_TAG), None)
    if run_name and name_tag and run_name != name_tag:
        raise MlflowError("INVALID_PARAMETER_VALUE",
                          "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different "
                          f"values (run_name='{run_name}', mlflow.runName='{name_tag}').")
    run_name = run_name or name_tag or _random_name()
    if name_tag is None:
        tags.append((RUN_NAME_TAG, run_name))
    start_time = fields.integer("start_time")
    experiment = mapping.get_experiment(store, experiment_id)
    if not mapping.is_active(experiment):
        raise MlflowError("INVALID_PARAMETER_VALUE",
                          f"The experiment {experiment_id} must be in the 'active' state. "
                          f"Current state is {mapping.string(experiment, 'lifecycle_stage')}.")
    run_id = uuid.uuid4().hex
    execution = pb.Execution(type_id=types.run, name=run_id)
    for name, value in (("run_id", run_id), ("run_name", run_name), ("experiment_id", experiment_id),
                        ("user_id", fields.string("user_id", default="") or ""),
                        ("lifecycle_stage", mapping.ACTIVE),
                        ("artifact_uri", f"{mapping.artifact_location(experiment).rstrip('/')}/{run_id}/artifacts")):
        mapping.set_string(execution, name, value)
    mapping.set_status(execution, "RUNNING")
    execution.properties["start_time"].int_value = start_time if start_time is not None else mapping.now_ms()
    for key, value in tags:
        execution.custom_properties[mapping.TAG_PREFIX + key].string_value = value
    context = pb.Context(type_id=types.run_context, name=run_id)
    with store.transaction() as tx:
        [execution_id] = tx.put_executions([execution])
        [context_id] = tx.put_contexts([context])
        tx.put_attributions_and_associations(
            [], [pb.Association(context_id=context_id, execution_id=execution_id),
                 pb.Association(context_id=experiment.id, execution_id=execution_id)])
        tx.put_parent_contexts([pb.ParentContext(child_id=context_id, parent_id=experiment.id)])
        [stored] = tx.get_executions_by_id([execution_id])
    return {"run": _run_json(stored, {}, {})}


def get_run(store: Store, fields: Fields) -> dict:
    execution = mapping.get_run_execution(store, _run_id(fields))
    return {"run": runs_json(store, [execution])[0]}


def update_run(store: Store, fields: Fields) -> dict:
    run_id = _run_id(fields)
    status = fields.raw("status")
    if isinstance(status, int) and not isinstance(status, bool) and 1 <= status <= len(mapping.RUN_STATUSES):
        status = mapping.RUN_STATUSES[status - 1]
    if status is not None and status not in mapping.RUN_STATUSES:
        raise MlflowError("INVALID_PARAMETER_VALUE", invalid_value("status", status))
    end_time = fields.integer("end_time")
    run_name = fields.string("run_name")
    with store.transaction() as tx:
        execution = _run_in(tx, store, run_id)
        if status is not None:
            mapping.set_status(execution, status)
        if end_time is not None:
            execution.properties["end_time"].int_value = end_time
        if run_name:
            mapping.set_string(execution, "run_name", run_name)
            execution.custom_properties[mapping.TAG_PREFIX + RUN_NAME_TAG].string_value = run_name
        tx.put_executions([execution])
        [stored] = tx.get_executions_by_id([execution.id])
    return {"run_info": mapping.run_info_json(stored)}


def _set_stage(store: Store, fields: Fields, stage: str) -> dict:
    with store.transaction() as tx:
        execution = _run_in(tx, store, _run_id(fields), active=False)
        mapping.set_string(execution, "lifecycle_stage", stage)
        tx.put_executions([execution])
    return {}


def delete_run(store: Store, fields: Fields) -> dict:
    return _set_stage(store, fields, mapping.DELETED)


def restore_run(store: Store, fields: Fields) -> dict:
    return _set_stage(store, fields, mapping.ACTIVE)


# --- params, tags, metrics ---------------------------------------------------------------------


def _apply_params(execution: pb.Execution, params: list[tuple[str, str]], run_id: str, *, single: bool) -> bool:
    """Add params to the execution; INVALID_PARAMETER_VALUE when one was logged with another value."""
    conflicts = []
    added = False
    for key, value in params:
        name = mapping.PARAM_PREFIX + key
        if name in execution.custom_properties:
            old = execution.custom_properties[name].string_value
            if old != value:
                conflicts.append({"key": key, "old_value": old, "new_value": value})
            continue
        execution.custom_properties[name].string_value = value
        added = True
    if conflicts:
        if single:
            one = conflicts[0]
            raise MlflowError("INVALID_PARAMETER_VALUE",
                              f"Changing param values is not allowed. Param with key='{one['key']}' was already "
                              f"logged with value='{one['old_value']}' for run ID='{run_id}'. Attempted logging "
                              f"new value '{one['new_value']}'.")
        raise MlflowError("INVALID_PARAMETER_VALUE",
                          f"Changing param values is not allowed. Params were already logged='{conflicts}' for "
                          f"run ID='{run_id}'.")
    return added


def _apply_tags(execution: pb.Execution, tags: list[tuple[str, str]]) -> bool:
    for key, value in tags:
        execution.custom_properties[mapping.TAG_PREFIX + key].string_value = value
        if key == RUN_NAME_TAG:
            mapping.set_string(execution, "run_name", value)
    return bool(tags)


def _point_key(step: int, stamp: int, value: float) -> tuple[int, int, float | str]:
    return step, stamp, "NaN" if math.isnan(value) else value


def _append_metrics(tx: WriteTransaction, execution_id: int, metrics: list[tuple[str, float, int, int]]) -> None:
    """Append points (key, value, timestamp, step) after each key's last seq, in request order.

    A point equal to one already stored (same key, step, timestamp and value) is
    stored once, as MLflow keeps it; only points at a step not past the key's
    greatest step need that look-up.
    """
    connection = tx.connection
    tails = metric_reads.metric_tails(connection, execution_id, [m[0] for m in metrics])
    seen: dict[str, set[tuple[int, int, float | str]]] = {}
    for key, (_, greatest) in tails.items():
        steps = [step for name, _, _, step in metrics if name == key and step <= greatest]
        seen[key] = {_point_key(*p) for p in metric_reads.points_at_steps(connection, execution_id, key, steps)}
    series: dict[str, mpb.MetricSeries] = {}
    last = {key: seq for key, (seq, _) in tails.items()}
    for key, value, stamp, step in metrics:
        identity = _point_key(step, stamp, value)
        known = seen.setdefault(key, set())
        if identity in known:
            continue
        known.add(identity)
        one = series.get(key)
        if one is None:
            one = series[key] = mpb.MetricSeries(execution_id=execution_id, name=key)
        seq = last.get(key, -1) + 1
        last[key] = seq
        one.seq.append(seq)
        one.step.append(step)
        one.value.append(value)
        one.timestamp_ms.append(stamp)
    if series:
        expected = sum(len(one.seq) for one in series.values())
        if tx.put_metric_series(list(series.values())) != expected:
            # Another server (sharing a PostgreSQL database) appended at the same seq first: roll back, go again.
            raise _SeqTaken()


class _SeqTaken(Exception):
    """A metric point's seq was taken by a concurrent writer; the unit of work is retried."""


_APPEND_TRIES = 5


def _appending(work: Callable[[], None]) -> None:
    """Run a unit of work that appends metric points, again (with fresh seqs) when a concurrent writer took one."""
    for attempt in range(_APPEND_TRIES):
        try:
            work()
            return
        except _SeqTaken:
            if attempt == _APPEND_TRIES - 1:
                raise MlflowError("TEMPORARILY_UNAVAILABLE",
                                  "metric points could not be appended: concurrent writers; try again") from None


def _metric(entry: dict, path: str) -> tuple[str, float, int, int]:
    fields = Fields(entry)
    key = entry.get("key")
    value = fields.number("value") if entry.get("value") is not None else None
    if value is None and entry.get("value") is None:
        raise MlflowError("INVALID_PARAMETER_VALUE",
                          f"Missing value for required parameter '{path + '.' if path else ''}value'.")
    timestamp = fields.integer("timestamp")
    step = fields.integer("step") or 0
    check_metric(key, value, timestamp, step, path)
    assert value is not None and timestamp is not None and isinstance(key, str)
    return key, value, timestamp, step


def log_metric(store: Store, fields: Fields) -> dict:
    run_id = _run_id(fields)
    if fields.raw("key") is None:
        raise MlflowError("INVALID_PARAMETER_VALUE", "Missing value for required parameter 'key'. See the API docs "
                                                     "for more information about request parameters.")
    if fields.raw("value") is None:
        raise MlflowError("INVALID_PARAMETER_VALUE", "Missing value for required parameter 'value'. See the API "
                                                     "docs for more information about request parameters.")
    if fields.raw("timestamp") is None:
        raise MlflowError("INVALID_PARAMETER_VALUE", "Missing value for required parameter 'timestamp'. See the "
                                                     "API docs for more information about request parameters.")
    point = _metric({k: fields.raw(k) for k in ("key", "value", "timestamp", "step")}, "")

    def work() -> None:
        with store.transaction() as tx:
            execution = _run_in(tx, store, run_id)
            _append_metrics(tx, execution.id, [point])

    _appending(work)
    return {}


def log_param(store: Store, fields: Fields) -> dict:
    run_id = _run_id(fields)
    if fields.raw("key") is None:
        raise MlflowError("INVALID_PARAMETER_VALUE", "Missing value for required parameter 'key'. See the API docs "
                                                     "for more information about request parameters.")
    param = check_param(fields.raw("key"), fields.raw("value"))
    with store.transaction() as tx:
        execution = _run_in(tx, store, run_id)
        if _apply_params(execution, [param], run_id, single=True):
            tx.put_executions([execution])
    return {}


def set_tag(store: Store, fields: Fields) -> dict:
    run_id = _run_id(fields)
    if fields.raw("key") is None:
        raise MlflowError("INVALID_PARAMETER_VALUE", "Missing value for required parameter 'key'. See the API docs "
                                                     "for more information about request parameters.")
    tag = check_tag(fields.raw("key"), fields.raw("value"))
    with store.transaction() as tx:
        execution = _run_in(tx, store, run_id)
        _apply_tags(execution, [tag])
        tx.put_executions([execution])
    return {}


def delete_tag(store: Store, fields: Fields) -> dict:
    run_id = _run_id(fields)
    key = fields.required_string("key")
    with store.transaction() as tx:
        execution = _run_in(tx, store, run_id)
        name = mapping.TAG_PREFIX + key
        if name not in execution.custom_properties:
            raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"No tag with name: {key} in run with id {run_id}")
        del execution.custom_properties[name]
        tx.put_executions([execution])
    return {}


def log_batch(store: Store, fields: Fields) -> dict:
    run_id = _run_id(fields)
    raw_metrics, raw_params, raw_tags = fields.objects("metrics"), fields.objects("params"), fields.objects("tags")
    check_batch_limits(len(raw_metrics), len(raw_params), len(raw_tags))
    metrics = [_metric(m, f"metrics[{i}]") for i, m in enumerate(raw_metrics)]
    params = [check_param(p.get("key"), p.get("value"), f"params[{i}]") for i, p in enumerate(raw_params)]
    tags = [check_tag(t.get("key"), t.get("value"), f"tags[{i}]") for i, t in enumerate(raw_tags)]
    keys = [key for key, _ in params]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise MlflowError("INVALID_PARAMETER_VALUE",
                          f"Duplicate parameter keys have been submitted: {duplicates}. Please ensure the request "
                          "contains only one param value per param key.")
    if not (metrics or params or tags):
        mapping.get_run(store, run_id)
        return {}
    def work() -> None:
        with store.transaction() as tx:
            execution = _run_in(tx, store, run_id)
            changed = _apply_params(execution, params, run_id, single=False)
            changed = _apply_tags(execution, tags) or changed
            if changed:
                tx.put_executions([execution])
            if metrics:
                _append_metrics(tx, execution.id, metrics)

    _appending(work)
    return {}


def get_metric_history(store: Store, fields: Fields) -> dict:
    run_id = _run_id(fields)
    key = fields.required_string("metric_key")
    max_results = fields.integer("max_results")
    if max_results is not None and not 1 <= max_results <= MAX_HISTORY_RESULTS:
        raise MlflowError("INVALID_PARAMETER_VALUE",
                          f"Invalid value {max_results} for parameter 'max_results' supplied. It must be between "
                          f"1 and {MAX_HISTORY_RESULTS}")
    offset = page_offset(fields.string("page_token"))
    execution = mapping.get_run_execution(store, run_id)
    points: list[tuple[int, int, float]] = []
    for series in store.get_metric_series([execution.id], [key]):
        points.extend(zip(series.timestamp_ms, series.step, series.value, strict=True))
    # MLflow's order: timestamp, step, value
    points.sort(key=lambda p: (p[0], p[1], -math.inf if math.isnan(p[2]) else p[2]))
    end = len(points) if max_results is None else offset + max_results
    page = points[offset:end]
    answer: dict = {}
    if page:
        answer["metrics"] = [{"key": key, "value": number_json(v), "timestamp": t, "step": s} for t, s, v in page]
    if end < len(points):
        answer["next_page_token"] = page_token(end)
    return answer


# --- search ------------------------------------------------------------------------------------


def _subject(run: dict) -> search.Subject:
    info = run["info"]
    data = run["data"]
    datasets = []
    for item in run.get("inputs", {}).get("dataset_inputs", []):
        dataset = item.get("dataset", {})
        context = next((t.get("value") for t in item.get("tags", []) if t.get("key") == "mlflow.data.context"), None)
        datasets.append({"name": dataset.get("name"), "digest": dataset.get("digest"), "context": context})
    return search.Subject(
        attributes={**info, "end_time": info.get("end_time"), "json": run},
        metrics={m["key"]: to_number("value", m["value"]) for m in data.get("metrics", [])},
        params={p["key"]: p["value"] for p in data.get("params", [])},
        tags={t["key"]: t["value"] for t in data.get("tags", [])},
        datasets=datasets,
    )


def search_runs(store: Store, fields: Fields) -> dict:
    experiment_ids = fields.strings("experiment_ids")
    stages = check_view_type(fields.raw("run_view_type"))
    max_results = check_max_results(fields.integer("max_results"), default=DEFAULT_MAX_RESULTS)
    clauses = search.parse_run_filter(fields.string("filter"))
    order = search.parse_order_by(fields.strings("order_by"), runs=True)
    offset = page_offset(fields.string("page_token"))
    types = mapping.ensure_types(store)
    executions: dict[int, pb.Execution] = {}
    for experiment_id in experiment_ids:
        experiment = mapping.find_experiment(store, experiment_id)
        if experiment is None:
            continue
        runs, _ = store.list_nodes("execution", type_name=mapping.RUN_TYPE, context_id=experiment.id)
        for run in runs:
            if run.type_id == types.run and mapping.string(run, "lifecycle_stage", mapping.ACTIVE) in stages:
                executions[run.id] = run
    subjects = [s for s in map(_subject, runs_json(store, list(executions.values()))) if search.matches(s, clauses)]
    ties = [] if any(k.entity == "attribute" and k.key == "start_time" for k in order) else [
        search.OrderKey("attribute", "start_time", False)]
    ordered = search.sort(subjects, order, [*ties, search.OrderKey("attribute", "run_id", True)])
    page = ordered[offset: offset + max_results]
    answer: dict = {}
    if page:
        answer["runs"] = [s.attributes["json"] for s in page]
    if offset + max_results < len(ordered):
        answer["next_page_token"] = page_token(offset + max_results)
    return answer


__all__ = [
    "create_run", "delete_run", "delete_tag", "get_metric_history", "get_run", "log_batch", "log_metric",
    "log_param", "restore_run", "runs_json", "search_runs", "set_tag", "update_run",
]
