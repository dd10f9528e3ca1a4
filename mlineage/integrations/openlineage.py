"""OpenLineage in and out: run events (spec 2-0-x) recorded as MLMD nodes, and MLMD nodes as run events.

In (``record_event``):

* the job is a context of type ``openlineage.Job`` (properties ``namespace``, ``name``);
* the run is an execution of type ``openlineage.Run`` whose ``external_id`` is the
  run id and whose ``last_known_state`` follows the events: START/RUNNING ->
  RUNNING, COMPLETE -> COMPLETE, FAIL -> FAILED, ABORT -> CANCELED, OTHER changes
  nothing. A state never regresses (a START that arrives after COMPLETE
  leaves it COMPLETE); between two terminal events the later ``eventTime`` wins;
* each input or output dataset is an artifact of type ``openlineage.Dataset``
  keyed by namespace and name: ``external_id`` and ``name`` are
  ``"{namespace}/{name}"`` (a SHA-256 key when that is longer than 255
  characters), with INPUT and OUTPUT events to the run's execution and
  attributions to the job's context;
* facets are custom properties with struct values, ``facet.<name>`` on the
  node they describe (run facets on the execution, job facets on the context,
  dataset facets on the artifact); input/output dataset facets, which belong
  to one run, are ``input_facets``/``output_facets`` on the execution, keyed by
  dataset. Metadata is additive: a facet sent again replaces the stored one;
* the raw event is stored first, as received, in ``openlineage_events``.

Events of one run may arrive repeated or out of order: they update the same
execution. JobEvents (no run) record the job and its datasets; DatasetEvents
record the dataset.

Out (``execution_events``, ``export_events``): each execution becomes a START
event at its start and, once finished, a COMPLETE, FAIL or ABORT event, with
its INPUT/OUTPUT artifacts as datasets. Nodes recorded from OpenLineage come
back with their own job, run id, datasets and facets; other nodes get a job
named after their context and type, a run id derived from the execution, and
an ``mlineage_*`` facet carrying the MLMD node.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from google.protobuf import json_format

from mlineage import __version__
from mlineage.errors import (
    AbortedError,
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
)
from mlineage.metadata import page_tokens
from mlineage.metadata.kinds import EXECUTION
from mlineage.metadata.openlineage_events import RawEvent
from mlineage.metadata.store import Store, WriteTransaction
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metadata_store_service_pb2 as svc
from mlineage.schema import tables as t

SPEC_VERSION = "2-0-2"
SCHEMA_URL = f"https://openlineage.io/spec/{SPEC_VERSION}/OpenLineage.json#/$defs/RunEvent"
PRODUCER = f"urn:mlineage:{__version__}"
FACET_SCHEMA_URL = f"urn:mlineage:{__version__}:facets"

JOB_TYPE = "openlineage.Job"
RUN_TYPE = "openlineage.Run"
DATASET_TYPE = "openlineage.Dataset"
FACET_PREFIX = "facet."
MAX_KEY = 255

EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
_State = pb.Execution.State
STATE_OF_EVENT = {
    "START": _State.RUNNING,
    "RUNNING": _State.RUNNING,
    "COMPLETE": _State.COMPLETE,
    "FAIL": _State.FAILED,
    "ABORT": _State.CANCELED,
}
_TERMINAL = {_State.COMPLETE, _State.FAILED, _State.CANCELED, _State.CACHED}
_STRING = pb.PropertyType.STRING

# Concurrent events of one run are applied one at a time in this process (read, merge, write).
_RUN_LOCKS = [threading.Lock() for _ in range(64)]
_ATTEMPTS = 5


# --- parsing -------------------------------------------------------------------------------------


@dataclass
class Dataset:
    namespace: str
    name: str
    facets: dict[str, Any] = field(default_factory=dict)
    io_facets: dict[str, Any] = field(default_factory=dict)  # inputFacets or outputFacets


@dataclass
class Event:
    """An OpenLineage event, checked: what ``record_event`` needs of it."""

    kind: str  # "run" | "job" | "dataset"
    raw: dict[str, Any]
    event_time: str
    event_time_ms: int
    producer: str
    event_type: str | None = None
    run_id: str | None = None
    run_facets: dict[str, Any] = field(default_factory=dict)
    job_namespace: str | None = None
    job_name: str | None = None
    job_facets: dict[str, Any] = field(default_factory=dict)
    inputs: list[Dataset] = field(default_factory=list)
    outputs: list[Dataset] = field(default_factory=list)


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"{where} must be a JSON object")
    return value


def _text(container: dict[str, Any], key: str, where: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(f"{where}.{key} is required and must be a non-empty string")
    if "\x00" in value:
        raise InvalidArgumentError(f"{where}.{key} must not contain NUL characters")
    return value


def _facets(container: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = container.get(key)
    if value is None:
        return {}
    facets = _object(value, f"{where}.{key}")
    for name, facet in facets.items():
        _object(facet, f"{where}.{key}.{name}")
    return facets


def _time(text: str) -> int:
    """Milliseconds since the epoch of an ISO 8601 date-time (with a time of day)."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgumentError(f"eventTime {text[:64]!r} is not an ISO 8601 date-time") from None
    if "t" not in text.lower() and " " not in text.strip():
        raise InvalidArgumentError(f"eventTime {text[:64]!r} has no time of day")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        ms = int(parsed.timestamp() * 1000)
        iso_time(ms)
    except (OverflowError, OSError, ValueError):
        raise InvalidArgumentError(f"eventTime {text[:64]!r} is out of range") from None
    return ms


def _datasets(event: dict[str, Any], key: str, io_key: str) -> list[Dataset]:
    value = event.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidArgumentError(f"{key} must be a list of datasets")
    datasets = []
    for index, item in enumerate(value):
        where = f"{key}[{index}]"
        item = _object(item, where)
        datasets.append(
            Dataset(
                namespace=_text(item, "namespace", where),
                name=_text(item, "name", where),
                facets=_facets(item, "facets", where),
                io_facets=_facets(item, io_key, where),
            )
        )
    return datasets


def parse_event(raw: Any) -> Event:
    """Check an OpenLineage RunEvent, JobEvent or DatasetEvent; INVALID_ARGUMENT names the first problem."""
    raw = _object(raw, "the OpenLineage event")
    event_time = _text(raw, "eventTime", "event")
    producer = _text(raw, "producer", "event")
    schema_url = raw.get("schemaURL")
    if schema_url is not None and not isinstance(schema_url, str):
        raise InvalidArgumentError("event.schemaURL must be a string")
    event = Event(kind="run", raw=raw, event_time=event_time, event_time_ms=_time(event_time), producer=producer)
    if "run" in raw:
        run = _object(raw["run"], "run")
        run_id = _text(run, "runId", "run")
        try:
            uuid.UUID(run_id)
        except ValueError:
            raise InvalidArgumentError(f"run.runId {run_id[:64]!r} is not a UUID") from None
        event.run_id = run_id.lower()
        event.run_facets = _facets(run, "facets", "run")
        event_type = raw.get("eventType")
        if event_type is not None and event_type not in EVENT_TYPES:
            raise InvalidArgumentError(f"eventType must be one of {', '.join(EVENT_TYPES)}, got {event_type!r}")
        event.event_type = event_type or "OTHER"
    elif "job" in raw:
        event.kind = "job"
    elif "dataset" in raw:
        event.kind = "dataset"
        event.outputs = [
            Dataset(
                namespace=_text(_object(raw["dataset"], "dataset"), "namespace", "dataset"),
                name=_text(raw["dataset"], "name", "dataset"),
                facets=_facets(raw["dataset"], "facets", "dataset"),
            )
        ]
        return event
    else:
        raise InvalidArgumentError("an OpenLineage event has a run (RunEvent), a job (JobEvent) or a dataset")
    job = _object(raw.get("job"), "job")
    event.job_namespace = _text(job, "namespace", "job")
    event.job_name = _text(job, "name", "job")
    event.job_facets = _facets(job, "facets", "job")
    event.inputs = _datasets(raw, "inputs", "inputFacets")
    event.outputs = _datasets(raw, "outputs", "outputFacets")
    return event


# --- keys, types, values -------------------------------------------------------------------------


def entity_key(namespace: str, name: str) -> str:
    """The name and external id of a job context or dataset artifact: ``namespace/name``, or a hash if long."""
    key = f"{namespace}/{name}"
    if len(key) <= MAX_KEY:
        return key
    return "sha256:" + hashlib.sha256(json.dumps([namespace, name]).encode()).hexdigest()


@dataclass(frozen=True)
class TypeIds:
    job: int
    run: int
    dataset: int


_TYPE_IDS: weakref.WeakKeyDictionary[Store, TypeIds] = weakref.WeakKeyDictionary()
_TYPE_LOCK = threading.Lock()


def ensure_types(store: Store) -> TypeIds:
    """The ids of the three OpenLineage types, created on first use (once per store)."""
    with _TYPE_LOCK:
        known = _TYPE_IDS.get(store)
    if known is not None:
        return known
    job = pb.ContextType(name=JOB_TYPE, description="an OpenLineage job (namespace and name)")
    job.properties["namespace"] = _STRING
    job.properties["name"] = _STRING
    run = pb.ExecutionType(name=RUN_TYPE, description="an OpenLineage run of a job")
    for name in ("run_id", "job_namespace", "job_name", "start_time", "end_time", "state_time", "last_event_type"):
        run.properties[name] = _STRING
    dataset = pb.ArtifactType(
        name=DATASET_TYPE, description="an OpenLineage dataset (namespace and name)", base_type=pb.ArtifactType.DATASET
    )
    dataset.properties["namespace"] = _STRING
    dataset.properties["name"] = _STRING
    ids = TypeIds(
        job=store.put_context_type(job, can_add_fields=True),
        run=store.put_execution_type(run, can_add_fields=True),
        dataset=store.put_artifact_type(dataset, can_add_fields=True),
    )
    with _TYPE_LOCK:
        _TYPE_IDS[store] = ids
    return ids


def _struct(value: dict[str, Any], where: str) -> pb.Value:
    result = pb.Value()
    try:
        json_format.ParseDict(value, result.struct_value, max_recursion_depth=64)
    except (json_format.ParseError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise InvalidArgumentError(f"{where} cannot be stored: {str(exc)[:200]}") from None
    return result


def _plain(value: pb.Value) -> Any:
    """A property value as plain JSON (struct values with integral numbers as integers)."""
    which = value.WhichOneof("value")
    if which == "struct_value":
        return _integral(json_format.MessageToDict(value.struct_value))
    if which == "proto_value":
        return {"@type": value.proto_value.type_url}
    if which is None:
        return None
    return getattr(value, which)


def _integral(value: Any) -> Any:
    # A Struct keeps every number as a double; give back the integers producers sent.
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


def _set_facets(message, facets: dict[str, Any], where: str) -> bool:
    changed = False
    for name, facet in facets.items():
        key = FACET_PREFIX + name
        value = _struct(facet, f"{where} facet {name!r}")
        if key not in message.custom_properties or message.custom_properties[key] != value:
            message.custom_properties[key].CopyFrom(value)
            changed = True
    return changed


def _merge_struct(message, key: str, additions: dict[str, Any], where: str) -> None:
    current: dict[str, Any] = {}
    if key in message.custom_properties and message.custom_properties[key].HasField("struct_value"):
        current = json_format.MessageToDict(message.custom_properties[key].struct_value)
    for dataset_key, facets in additions.items():
        current.setdefault(dataset_key, {}).update(facets)
    message.custom_properties[key].CopyFrom(_struct(current, where))


# --- raw events ----------------------------------------------------------------------------------


def store_raw_event(store: Store, event: Event) -> int:
    """Keep the event as received (one unit of work of the store); its id."""
    raw = RawEvent(
        event_time=event.event_time,
        event_type=event.event_type,
        run_id=event.run_id,
        job_namespace=event.job_namespace,
        job_name=event.job_name,
        producer=event.producer,
        payload=json.dumps(event.raw, separators=(",", ":"), ensure_ascii=False, sort_keys=True),
    )
    with store.transaction() as tx:
        return tx.add_openlineage_event(raw)


def raw_events(
    store: Store, *, run_id: str | None = None, page_size: int = 100, page_token: str | None = None
) -> tuple[list[dict[str, Any]], str]:
    """Stored events, oldest first, optionally of one run; and the token of the next page (bound to the run)."""
    run = run_id.lower() if run_id else None
    query = page_tokens.fingerprint("openlineage_events", store.namespace, run)
    after = None
    if page_token:
        after = page_tokens.decode(page_token, query, lambda body: page_tokens.int64(body["i"]),
                                   invalid=_INVALID_TOKEN, mismatch=_OTHER_RUN_TOKEN)
    rows = store.get_openlineage_events(run, after, page_size + 1)
    token = ""
    if len(rows) > page_size:
        rows = rows[:page_size]
        token = page_tokens.encode(query, {"i": rows[-1][0]})
    return [json.loads(payload) for _, payload in rows], token


_INVALID_TOKEN = "invalid page_token: not a token this server issued"
_OTHER_RUN_TOKEN = "the page_token was issued for another run_id: ask with the run_id it came with"


# --- in: events to nodes -------------------------------------------------------------------------


def record_event(store: Store, raw: Any) -> svc.PutExecutionResponse:
    """Record one OpenLineage event (checked first; nothing is written if it is invalid)."""
    event = parse_event(raw)
    ids = ensure_types(store)
    store_raw_event(store, event)
    lock = _RUN_LOCKS[hash(event.run_id or event.job_name or "") % len(_RUN_LOCKS)]
    for attempt in range(_ATTEMPTS):
        try:
            with lock:
                if event.kind == "run":
                    return _record_run(store, ids, event)
                if event.kind == "job":
                    return _record_job(store, ids, event)
                return _record_datasets(store, ids, event)
        except (AlreadyExistsError, AbortedError):
            # Another writer created the same run, job or dataset between our read and write: read again.
            if attempt == _ATTEMPTS - 1:
                raise
    raise AbortedError("unreachable")  # pragma: no cover


def _job_context(
    store: Store, ids: TypeIds, event: Event, tx: WriteTransaction | None = None
) -> tuple[pb.Context, bool]:
    """The job's context (stored, or new) and whether it needs writing; read again through ``tx``
    when given, which then holds it until it commits (another server cannot change it in between)."""
    key = entity_key(event.job_namespace or "", event.job_name or "")
    context = store.get_context_by_type_and_name(JOB_TYPE, key)
    if context is not None and tx is not None:
        context = next(iter(tx.get_contexts_by_id([context.id])), None)
    if context is None:
        context = pb.Context(type_id=ids.job, name=key, external_id=key)
        context.properties["namespace"].string_value = event.job_namespace or ""
        context.properties["name"].string_value = event.job_name or ""
        _set_facets(context, event.job_facets, "job")
        return context, True
    return context, _set_facets(context, event.job_facets, "job")


def _dataset_artifacts(
    store: Store, ids: TypeIds, datasets: Iterable[Dataset], tx: WriteTransaction
) -> dict[str, tuple[pb.Artifact, bool]]:
    """Artifact for each dataset key (stored, or new), and whether it needs writing; the stored ones
    read again through ``tx``, which holds them until it commits."""
    wanted: dict[str, Dataset] = {}
    for dataset in datasets:
        key = entity_key(dataset.namespace, dataset.name)
        if key in wanted:
            wanted[key].facets.update(dataset.facets)
        else:
            wanted[key] = Dataset(dataset.namespace, dataset.name, dict(dataset.facets))
    stored = {a.external_id: a for a in _found(store.get_artifacts_by_external_ids, list(wanted))}
    if stored:
        stored = {a.external_id: a for a in tx.get_artifacts_by_id([a.id for a in stored.values()])}
    result = {}
    for key, dataset in wanted.items():
        artifact = stored.get(key)
        if artifact is None:
            artifact = pb.Artifact(
                type_id=ids.dataset, name=key, external_id=key, uri=f"{dataset.namespace}/{dataset.name}",
                state=pb.Artifact.LIVE,
            )
            artifact.properties["namespace"].string_value = dataset.namespace
            artifact.properties["name"].string_value = dataset.name
            _set_facets(artifact, dataset.facets, f"dataset {key}")
            result[key] = (artifact, True)
        else:
            result[key] = (artifact, _set_facets(artifact, dataset.facets, f"dataset {key}"))
    return result


def _found(lookup, keys) -> list:
    """A look-up that answers "none" as an empty list (MLMD answers NOT_FOUND for no match at all)."""
    try:
        return lookup(keys) if keys else []
    except NotFoundError:
        return []


def _set_string(message, name: str, value: str) -> None:
    message.properties[name].string_value = value


def _merge_state(execution: pb.Execution, event: Event) -> None:
    """Move the run's state as the event says, never backwards: terminal states stay terminal."""
    when = iso_time(event.event_time_ms)  # normalized: UTC, milliseconds, as RFC 3339 wants it
    if event.event_type == "START" and not _string_property(execution, "start_time"):
        _set_string(execution, "start_time", when)
    new_state = STATE_OF_EVENT.get(event.event_type or "OTHER")
    if new_state is None:  # OTHER adds metadata only
        if not execution.HasField("last_known_state"):
            execution.last_known_state = _State.NEW
        return
    current = execution.last_known_state if execution.HasField("last_known_state") else _State.UNKNOWN
    if current in _TERMINAL:
        if new_state not in _TERMINAL:
            return
        state_time = _string_property(execution, "state_time")
        if state_time and event.event_time_ms < _time(state_time):
            return  # an older terminal event: the later one decided
    execution.last_known_state = new_state
    _set_string(execution, "state_time", when)
    _set_string(execution, "last_event_type", event.event_type or "OTHER")
    if new_state in _TERMINAL:
        _set_string(execution, "end_time", when)


def _record_run(store: Store, ids: TypeIds, event: Event) -> svc.PutExecutionResponse:
    # One unit of work, whose reads hold what they read (PostgreSQL, MySQL): an event for the same
    # run, dataset or job through another server waits, then merges onto what this one wrote. Held
    # in one order (the run, its datasets, its job), as the store's own writes take them.
    with store.transaction() as tx:
        return _record_run_in(tx, store, ids, event)


def _record_run_in(tx: WriteTransaction, store: Store, ids: TypeIds, event: Event) -> svc.PutExecutionResponse:
    run_id = event.run_id or ""
    found = _found(store.get_executions_by_external_ids, [run_id])
    if found:
        found = tx.get_executions_by_id([found[0].id])
    if found:
        execution = found[0]
        existing_events = {(e.artifact_id, e.type) for e in store.get_events_by_execution_ids([execution.id])}
    else:
        execution = pb.Execution(type_id=ids.run, external_id=run_id)
        execution.properties["run_id"].string_value = run_id
        existing_events = set()
    execution.properties["job_namespace"].string_value = event.job_namespace or ""
    execution.properties["job_name"].string_value = event.job_name or ""
    _merge_state(execution, event)
    _set_facets(execution, event.run_facets, "run")
    for key, datasets in (("input_facets", event.inputs), ("output_facets", event.outputs)):
        additions = {entity_key(d.namespace, d.name): d.io_facets for d in datasets if d.io_facets}
        if additions:
            _merge_struct(execution, key, additions, key)

    artifacts = _dataset_artifacts(store, ids, [*event.inputs, *event.outputs], tx)
    context, context_changed = _job_context(store, ids, event, tx)
    pairs: list[tuple[pb.Artifact | None, pb.Event | None]] = []
    for datasets, event_type in ((event.inputs, pb.Event.INPUT), (event.outputs, pb.Event.OUTPUT)):
        for key in dict.fromkeys(entity_key(d.namespace, d.name) for d in datasets):
            artifact, changed = artifacts[key]
            if artifact.HasField("id") and (artifact.id, event_type) in existing_events:
                if changed:
                    pairs.append((artifact, None))
                continue
            link = pb.Event(type=event_type, milliseconds_since_epoch=event.event_time_ms)
            if artifact.HasField("id") and not changed:
                link.artifact_id = artifact.id
                pairs.append((None, link))
            else:
                pairs.append((artifact, link))
            if artifact.HasField("id"):
                existing_events.add((artifact.id, event_type))
    execution_id, artifact_ids, context_ids = tx.put_execution(
        execution,
        pairs,
        [context],
        reuse_context_if_already_exist=True,
        reuse_artifact_if_already_exist_by_external_id=True,
        # A stored job whose facets did not change is only linked, not rewritten.
        force_reuse_context=context.HasField("id") and not context_changed,
    )
    _link_parent(store, ids, event, context_ids[0])
    return svc.PutExecutionResponse(execution_id=execution_id, artifact_ids=artifact_ids, context_ids=context_ids)


def _link_parent(store: Store, ids: TypeIds, event: Event, child_context_id: int) -> None:
    """The ``parent`` run facet's job becomes the parent context of this run's job."""
    parent = event.run_facets.get("parent")
    job = parent.get("job") if isinstance(parent, dict) else None
    if not isinstance(job, dict) or not isinstance(job.get("namespace"), str) or not isinstance(job.get("name"), str):
        return
    if not job["namespace"] or not job["name"] or "\x00" in job["namespace"] + job["name"]:
        return
    parent_event = Event(kind="job", raw={}, event_time=event.event_time, event_time_ms=event.event_time_ms,
                         producer=event.producer, job_namespace=job["namespace"], job_name=job["name"])
    parent_context, _ = _job_context(store, ids, parent_event)
    if not parent_context.HasField("id"):
        [parent_context.id] = store.put_contexts([parent_context])
    if parent_context.id == child_context_id:
        return
    known = {c.id for c in _found(store.get_parent_contexts_by_context, child_context_id)}
    if parent_context.id in known:
        return
    try:
        store.put_parent_contexts([pb.ParentContext(child_id=child_context_id, parent_id=parent_context.id)])
    except (AlreadyExistsError, InvalidArgumentError):
        pass  # there already, or it would close a cycle: the hierarchy stays as it is


def _record_job(store: Store, ids: TypeIds, event: Event) -> svc.PutExecutionResponse:
    with store.transaction() as tx:  # as _record_run: what it merges onto is read fresh and held
        artifacts = _dataset_artifacts(store, ids, [*event.inputs, *event.outputs], tx)
        context, _ = _job_context(store, ids, event, tx)
        _, artifact_ids, context_ids = tx.put_lineage_subgraph(
            [], [artifact for artifact, _ in artifacts.values()], [context],
            [], reuse_context_if_already_exist=True, reuse_artifact_if_already_exist_by_external_id=True,
        )
    return svc.PutExecutionResponse(artifact_ids=artifact_ids, context_ids=context_ids)


def _record_datasets(store: Store, ids: TypeIds, event: Event) -> svc.PutExecutionResponse:
    with store.transaction() as tx:
        artifacts = _dataset_artifacts(store, ids, event.outputs, tx)
        artifact_ids = tx.put_artifacts([artifact for artifact, _ in artifacts.values()])
    return svc.PutExecutionResponse(artifact_ids=artifact_ids)


# --- out: nodes to events ------------------------------------------------------------------------

_EVENT_OF_STATE = {
    _State.COMPLETE: "COMPLETE",
    _State.CACHED: "COMPLETE",
    _State.FAILED: "FAIL",
    _State.CANCELED: "ABORT",
}
_INPUT_EVENTS = {pb.Event.INPUT, pb.Event.DECLARED_INPUT, pb.Event.INTERNAL_INPUT}
_OUTPUT_EVENTS = {pb.Event.OUTPUT, pb.Event.DECLARED_OUTPUT, pb.Event.INTERNAL_OUTPUT, pb.Event.PENDING_OUTPUT}


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def iso_time(ms: int) -> str:
    """RFC 3339 UTC time with milliseconds, e.g. ``2024-05-01T12:00:00.000Z``."""
    return (_EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _custom_facet(schema: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": f"{FACET_SCHEMA_URL}#/$defs/{schema}", **fields}


def _stored_facets(message) -> dict[str, Any]:
    return {
        key[len(FACET_PREFIX):]: _plain(value)
        for key, value in sorted(message.custom_properties.items())
        if key.startswith(FACET_PREFIX) and value.HasField("struct_value")
    }


def _values(values) -> dict[str, Any]:
    # Facets travel as facets, not again inside the mlineage_* facet.
    return {
        name: _plain(value)
        for name, value in sorted(values.items())
        if not name.startswith(FACET_PREFIX) and name not in ("input_facets", "output_facets")
    }


def _string_property(message, name: str) -> str:
    return message.properties[name].string_value if name in message.properties else ""


def _job_of(store: Store, execution: pb.Execution, contexts: Sequence[pb.Context]) -> dict[str, Any]:
    if execution.type == RUN_TYPE and _string_property(execution, "job_name"):
        namespace, name = _string_property(execution, "job_namespace"), _string_property(execution, "job_name")
        facets: dict[str, Any] = {}
        for context in contexts:
            if context.type == JOB_TYPE and _string_property(context, "name") == name:
                facets = _stored_facets(context)
                break
        return {"namespace": namespace, "name": name, "facets": facets}
    first = contexts[0] if contexts else None
    namespace = "mlineage" if store.namespace == t.DEFAULT_NAMESPACE else f"mlineage/{store.namespace}"
    name = f"{first.name}.{execution.type}" if first is not None else execution.type or f"type-{execution.type_id}"
    facets = {}
    if first is not None:
        facets["mlineage_context"] = _custom_facet(
            "MlineageContextJobFacet", id=str(first.id), type=first.type, name=first.name,
            properties=_values(first.properties), custom_properties=_values(first.custom_properties),
        )
    return {"namespace": namespace, "name": name, "facets": facets}


def run_id_of(store: Store, execution: pb.Execution) -> str:
    """The OpenLineage run id of an execution: its external id if that is a UUID, else one derived from its id."""
    if execution.external_id:
        try:
            return str(uuid.UUID(execution.external_id))
        except ValueError:
            pass
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mlineage:{store.namespace}:execution:{execution.id}"))


def _dataset(artifact: pb.Artifact, io_facets: dict[str, Any], io_key: str) -> dict[str, Any]:
    if artifact.type == DATASET_TYPE and _string_property(artifact, "name"):
        namespace, name = _string_property(artifact, "namespace"), _string_property(artifact, "name")
    elif artifact.uri and "://" in artifact.uri:
        scheme, _, rest = artifact.uri.partition("://")
        authority, _, path = rest.partition("/")
        namespace, name = f"{scheme}://{authority}", "/" + path if path else "/"
    elif artifact.uri:
        namespace, name = "file", artifact.uri
    else:
        namespace, name = "mlineage", f"{artifact.type or artifact.type_id}/{artifact.name or artifact.id}"
    facets = _stored_facets(artifact)
    facets["mlineage_artifact"] = _custom_facet(
        "MlineageArtifactDatasetFacet", id=str(artifact.id), type=artifact.type, uri=artifact.uri,
        state=pb.Artifact.State.Name(artifact.state) if artifact.state in pb.Artifact.State.values() else "UNKNOWN",
        properties=_values(artifact.properties), custom_properties=_values(artifact.custom_properties),
    )
    dataset: dict[str, Any] = {"namespace": namespace, "name": name, "facets": facets}
    key = entity_key(namespace, name)
    if key in io_facets:
        dataset[io_key] = io_facets[key]
    return dataset


def _events_for(
    store: Store, execution: pb.Execution, contexts: Sequence[pb.Context], events: Sequence[pb.Event],
    artifacts: dict[int, pb.Artifact],
) -> list[dict[str, Any]]:
    input_facets = _plain(execution.custom_properties["input_facets"]) if "input_facets" in execution.custom_properties else {}
    output_facets = _plain(execution.custom_properties["output_facets"]) if "output_facets" in execution.custom_properties else {}
    inputs, outputs, seen = [], [], set()
    for link in events:
        artifact = artifacts.get(link.artifact_id)
        if artifact is None:
            continue
        if link.type in _INPUT_EVENTS and ("in", artifact.id) not in seen:
            seen.add(("in", artifact.id))
            inputs.append(_dataset(artifact, input_facets or {}, "inputFacets"))
        elif link.type in _OUTPUT_EVENTS and ("out", artifact.id) not in seen:
            seen.add(("out", artifact.id))
            outputs.append(_dataset(artifact, output_facets or {}, "outputFacets"))
    run_facets = _stored_facets(execution)
    run_facets["mlineage_execution"] = _custom_facet(
        "MlineageExecutionRunFacet", id=str(execution.id), type=execution.type, name=execution.name,
        last_known_state=pb.Execution.State.Name(execution.last_known_state)
        if execution.last_known_state in pb.Execution.State.values() else "UNKNOWN",
        properties=_values(execution.properties), custom_properties=_values(execution.custom_properties),
    )
    run = {"runId": run_id_of(store, execution), "facets": run_facets}
    job = _job_of(store, execution, contexts)
    start = _string_property(execution, "start_time") or iso_time(execution.create_time_since_epoch)
    end = _string_property(execution, "end_time") or iso_time(execution.last_update_time_since_epoch)
    state = execution.last_known_state
    if state in _EVENT_OF_STATE:
        transitions = [("START", start), (_EVENT_OF_STATE[state], end)]
    elif state == _State.RUNNING:
        transitions = [("START", start)]
    else:
        transitions = [("OTHER", end)]
    return [
        {
            "eventType": event_type,
            "eventTime": when,
            "producer": PRODUCER,
            "schemaURL": SCHEMA_URL,
            "run": run,
            "job": job,
            "inputs": inputs,
            "outputs": outputs,
        }
        for event_type, when in transitions
    ]


def events_of_executions(store: Store, executions: Sequence[pb.Execution]) -> list[dict[str, Any]]:
    """OpenLineage run events for the executions, in their order."""
    if not executions:
        return []
    links = store.get_events_by_execution_ids([e.id for e in executions])
    by_execution: dict[int, list[pb.Event]] = {}
    for link in links:
        by_execution.setdefault(link.execution_id, []).append(link)
    artifacts = {a.id: a for a in store.get_artifacts_by_id(sorted({link.artifact_id for link in links}))}
    result = []
    for execution in executions:
        contexts = _found(store.get_contexts_by_execution, execution.id)
        result.extend(_events_for(store, execution, contexts, by_execution.get(execution.id, []), artifacts))
    return result


def execution_events(store: Store, execution_id: int) -> list[dict[str, Any]]:
    found = store.get_executions_by_id([execution_id])
    if not found:
        raise NotFoundError(f"no execution with id {execution_id}")
    return events_of_executions(store, found)


def export_events(store: Store, options: pb.ListOperationOptions) -> tuple[list[dict[str, Any]], str]:
    """Run events of one page of executions (MLMD list options: filter, order, page), and the next token."""
    executions, token = store.list_nodes(EXECUTION.name, options)
    return events_of_executions(store, executions), token


# --- OpenAPI ---------------------------------------------------------------------------------------

_FACETS = {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": True}}
_DATASET = {
    "type": "object",
    "required": ["namespace", "name"],
    "properties": {
        "namespace": {"type": "string", "minLength": 1},
        "name": {"type": "string", "minLength": 1},
        "facets": _FACETS,
        "inputFacets": _FACETS,
        "outputFacets": _FACETS,
    },
    "additionalProperties": True,
}
_JOB = {
    "type": "object",
    "required": ["namespace", "name"],
    "properties": {"namespace": {"type": "string", "minLength": 1}, "name": {"type": "string", "minLength": 1},
                   "facets": _FACETS},
    "additionalProperties": True,
}
#: The envelope of OpenLineage 2-0-x events (facet contents are the facets' own schemas), for /openapi.json.
SCHEMAS: dict[str, dict[str, Any]] = {
    "OpenLineageEvent": {
        "type": "object",
        "description": "an OpenLineage RunEvent (with `run`), JobEvent (`job`, no run) or DatasetEvent (`dataset`)",
        "required": ["eventTime", "producer"],
        "properties": {
            "eventType": {"type": "string", "enum": list(EVENT_TYPES)},
            "eventTime": {"type": "string", "format": "date-time"},
            "producer": {"type": "string", "minLength": 1, "description": "a URI naming the producer"},
            "schemaURL": {"type": "string"},
            "run": {
                "type": "object",
                "required": ["runId"],
                "properties": {"runId": {"type": "string", "format": "uuid"}, "facets": _FACETS},
                "additionalProperties": True,
            },
            "job": _JOB,
            "dataset": _DATASET,
            "inputs": {"type": "array", "items": _DATASET},
            "outputs": {"type": "array", "items": _DATASET},
        },
        "additionalProperties": True,
    },
    "OpenLineageReceivedEvents": {
        "type": "object",
        "properties": {
            "events": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
            "next_page_token": {"type": "string"},
        },
        "required": ["events"],
        "additionalProperties": False,
    },
    "OpenLineageRunEvents": {
        "type": "object",
        "properties": {
            "events": {"type": "array", "items": {"$ref": "#/components/schemas/OpenLineageEvent"}},
            "next_page_token": {"type": "string"},
        },
        "required": ["events"],
        "additionalProperties": False,
    },
}
