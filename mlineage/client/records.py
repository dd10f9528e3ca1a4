"""The records a step logs, and the Applier that writes them to a store idempotently.

A record is a small frozen dataclass, cheap to make on the step's thread, and
one JSON array on a journal line (``encode``/``decode``; the array's first item
names the record's class, and the format is the one journals have always been
written in, so an old journal still replays). Every record names what it writes
by a client-made key (the node's ``external_id``, or a metric point's ``seq``),
never by a server id, so the Applier can write the same records twice, after a
crash or a lost answer, and the store still holds each once:

* ``ContextRecord`` (``["ctx", key, type, name, props, parent_key]``): a context,
  found by (type, name) or created with ``external_id=key``; ``props`` are
  merged into its custom properties.
* ``ExecutionRecord`` (``["exe", key, type, state, props, context_keys, name]``):
  the whole state of an execution (``external_id=key``): created once (named
  ``name``, or, when another execution of the type has that name,
  ``name#<key[:8]>``), then replaced by each newer record. ``name`` is missing
  from the records of earlier versions.
* ``ArtifactRecord`` (``["art", key, type, uri, props, reuse, exe_key,
  event_type, event_key, event_index, context_keys, id]``): an artifact and its
  event with an execution. ``reuse`` is ``"new"``, ``"external_id"`` (link the
  artifact with that external id if it exists) or ``"uri"`` (link the newest
  artifact of the type at that URI whose stored properties agree with every one
  in ``props``; when none agrees, a new artifact at that URI with ``props``: a
  new version of what is there, never a silent link to an artifact that says
  otherwise); ``id`` links a stored artifact by its server id.
* ``ExecutionPropertiesRecord`` (``["xp", exe_key, type, props]``): properties
  merged into an execution (params logged between state changes), without
  resending the rest.
* ``MetricRecord`` (``["m", exe_key, name, seq, step, value, timestamp_ms]``):
  one metric point.

Between contexts and execution states, the Applier writes all metric
points in one call and all artifacts in one ``put_lineage_subgraph``.

A property the node's type declares must be given a value of that type (an int
is widened where a DOUBLE is declared); any other value is refused with
INVALID_ARGUMENT naming the property, never moved to the custom properties.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, ClassVar

from google.protobuf import struct_pb2

from mlineage import errors
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION, NodeKind
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metric_series_pb2 as mpb

EXECUTION_STATES = dict(pb.Execution.State.items())
PROPERTY_TYPE_NAMES = {value: name for name, value in pb.PropertyType.items()}
_VALUE_FIELDS: dict[int, str] = {pb.INT: "int_value", pb.DOUBLE: "double_value", pb.STRING: "string_value",
                 pb.STRUCT: "struct_value", pb.BOOLEAN: "bool_value", pb.PROTO: "proto_value"}
EVENT_TYPES = dict(pb.Event.Type.items())
MODEL_BASE_TYPE = pb.ArtifactType.SystemDefinedBaseType.Value("MODEL")


# --- the records ----------------------------------------------------------------------------------
# Field order is the order of the journal's JSON array (after its tag): never reorder, only append.
# TAG is the array's first item, the on-disk name of the record's class (not a node kind: KIND is).


@dataclass(frozen=True, slots=True)
class ContextRecord:
    """A context, found by (type, name) or created; ``props`` merged into it; linked under ``parent_key``."""

    TAG: ClassVar[str] = "ctx"
    KIND: ClassVar[NodeKind] = CONTEXT
    key: str
    type_name: str
    name: str
    props: dict[str, Any] = field(default_factory=dict)
    parent_key: str | None = None


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    """The whole state of an execution: created once, replaced by each newer record."""

    TAG: ClassVar[str] = "exe"
    KIND: ClassVar[NodeKind] = EXECUTION
    key: str
    type_name: str
    state: str  # an Execution.State name
    props: dict[str, Any] = field(default_factory=dict)
    context_keys: list[str] = field(default_factory=list)
    name: str | None = None  # None: a record of a version before names (written without the field)


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    """An artifact (new, or reused by external id, URI or server id) and its event with an execution."""

    TAG: ClassVar[str] = "art"
    KIND: ClassVar[NodeKind] = ARTIFACT
    key: str
    type_name: str
    uri: str | None
    props: dict[str, Any]
    reuse: str  # "new" | "external_id" | "uri"
    execution_key: str
    event_type: str  # an Event.Type name
    event_key: str | None = None
    event_index: int | None = None
    context_keys: list[str] = field(default_factory=list)
    known_id: int | None = None  # the server id of a stored artifact to link


@dataclass(frozen=True, slots=True)
class ExecutionPropertiesRecord:
    """Properties merged into an execution, without resending its state."""

    TAG: ClassVar[str] = "xp"
    KIND: ClassVar[NodeKind] = EXECUTION
    execution_key: str
    type_name: str
    props: dict[str, Any]


@dataclass(frozen=True, slots=True)
class MetricRecord:
    """One point of an execution's metric series."""

    TAG: ClassVar[str] = "m"
    execution_key: str
    name: str
    seq: int
    step: int
    value: float | None
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class UnknownRecord:
    """A line whose tag this version does not know: kept as read, refused when applied."""

    fields: list


Record = (ContextRecord | ExecutionRecord | ArtifactRecord | ExecutionPropertiesRecord | MetricRecord
          | UnknownRecord)
RECORD_CLASSES: dict[str, type] = {
    cls.TAG: cls for cls in (ContextRecord, ExecutionRecord, ArtifactRecord, ExecutionPropertiesRecord, MetricRecord)
}
# Each class's fields in order, read in one call (a record is encoded on the step's thread).
_FIELD_VALUES = {cls: attrgetter(*(f.name for f in dataclasses.fields(cls))) for cls in RECORD_CLASSES.values()}


def to_fields(record: Record) -> list:
    """The record as the journal's JSON array: its tag, then its fields in order."""
    if isinstance(record, UnknownRecord):
        return list(record.fields)
    items = [record.TAG, *_FIELD_VALUES[type(record)](record)]
    if isinstance(record, ExecutionRecord) and record.name is None:
        items.pop()  # the form of the versions before names
    return items


def from_fields(items: list) -> Record:
    """The record a journal array holds; ValueError when it cannot be one."""
    if not isinstance(items, list) or not items:
        raise ValueError("a record is a non-empty JSON array")
    cls = RECORD_CLASSES.get(items[0]) if isinstance(items[0], str) else None
    if cls is None:
        return UnknownRecord(list(items))
    try:
        return cls(*items[1:])
    except TypeError:
        raise ValueError(f"a {items[0]!r} record with {len(items) - 1} fields") from None


def encode(record: Record | list) -> bytes:
    """One journal line (a record, or the JSON array of one)."""
    items = record if isinstance(record, list) else to_fields(record)
    return (json.dumps(items, separators=(",", ":"), default=_jsonable) + "\n").encode()


def decode(line: bytes) -> Record:
    """The record of one journal line; ValueError when the line holds none."""
    return from_fields(json.loads(line))


def as_record(record: Record | list) -> Record:
    return from_fields(record) if isinstance(record, list) else record


def _jsonable(value: Any):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def to_value(value: Any, target: pb.Value) -> None:
    """Set a property ``Value`` from a Python value (bool, int, float, str, or JSON-like dict/list → struct)."""
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        if -(2**63) <= value < 2**63:
            target.int_value = value
        else:
            target.string_value = str(value)
    elif isinstance(value, float):
        if math.isfinite(value):
            target.double_value = value
        else:  # NaN/inf do not survive every backend's double column; the metric series keeps the number
            target.string_value = repr(value)
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, dict):
        struct = struct_pb2.Struct()
        struct.update(json.loads(json.dumps(value, default=_jsonable)))
        target.struct_value.CopyFrom(struct)
    elif isinstance(value, (list, tuple)):
        struct = struct_pb2.Struct()
        struct.update({"value": json.loads(json.dumps(list(value), default=_jsonable))})
        target.struct_value.CopyFrom(struct)
    elif value is None:
        raise errors.InvalidArgumentError("a property value cannot be None")
    else:
        target.string_value = str(value)


def from_value(value: pb.Value) -> Any:
    """The Python value of a property ``Value`` (the inverse of ``to_value``)."""
    from google.protobuf import json_format

    which = value.WhichOneof("value")
    if which == "struct_value":
        data = json_format.MessageToDict(value.struct_value)
        return data["value"] if set(data) == {"value"} and isinstance(data["value"], list) else data
    return getattr(value, which) if which else None


def _agrees(node, props: dict) -> bool:
    """Whether ``node`` holds each of ``props`` with an equal value (as a property or a custom property)."""
    for name, value in props.items():
        if value is None:
            continue
        if name in node.properties:
            stored = node.properties[name]
        elif name in node.custom_properties:
            stored = node.custom_properties[name]
        else:
            return False
        wanted = pb.Value()
        to_value(value, wanted)
        if stored == wanted:
            continue
        have, want = from_value(stored), from_value(wanted)
        numbers = (int, float)
        if (isinstance(have, numbers) and isinstance(want, numbers) and not isinstance(have, bool)
                and not isinstance(want, bool) and float(have) == float(want)):
            continue  # 3 and 3.0: an int logged where a DOUBLE is declared
        return False
    return True


class Applier:
    """Writes records to a store (a ``Store`` or a ``GrpcStore``), remembering the ids it learns."""

    def __init__(self, store) -> None:
        self.store = store
        self._types: dict[tuple[NodeKind, str], tuple[int, dict[str, int]]] = {}
        self.ids: dict[tuple[NodeKind, str], int] = {}  # (kind, key) -> server id
        # Links made: (CONTEXT, child, parent), (EXECUTION, context, execution), (ARTIFACT, context, artifact).
        self._linked: set[tuple[NodeKind, int, int]] = set()

    # --- public ---------------------------------------------------------------------------------

    def apply(self, records: Sequence[Record | list]) -> None:
        """Write ``records`` (records, or their journal arrays) in order.

        Contexts and execution states are barriers, applied where they stand.
        Between two barriers, metric points, artifacts and property merges
        depend only on what came before the first of them, so each kind goes
        in one call (keeping its own order): points first, then artifacts,
        then properties.
        """
        metrics: list[MetricRecord] = []
        artifacts: list[ArtifactRecord] = []
        merges: list[ExecutionPropertiesRecord] = []

        def flush_groups() -> None:
            if metrics:
                self._metrics(metrics)
            if artifacts:
                self._artifacts(artifacts)
            if merges:
                self._execution_properties(merges)
            for group in (metrics, artifacts, merges):
                group.clear()

        for given in records:
            record = as_record(given)
            if isinstance(record, MetricRecord):
                metrics.append(record)
            elif isinstance(record, ArtifactRecord):
                artifacts.append(record)
            elif isinstance(record, ExecutionPropertiesRecord):
                merges.append(record)
            else:
                flush_groups()
                if isinstance(record, ExecutionRecord):
                    self._execution(record)
                elif isinstance(record, ContextRecord):
                    self._context(record)
                else:
                    kind = record.fields[0] if isinstance(record, UnknownRecord) else record
                    raise errors.InvalidArgumentError(f"unknown journal record kind {kind!r}")
        flush_groups()

    def lookup(self, kind: NodeKind, key: str) -> int | None:
        """The server id of the node with ``key`` (its external id), from memory or the store."""
        found = self.ids.get((kind, key))
        if found is not None:
            return found
        getter = {
            EXECUTION: self.store.get_executions_by_external_ids,
            ARTIFACT: self.store.get_artifacts_by_external_ids,
            CONTEXT: self.store.get_contexts_by_external_ids,
        }[kind]
        try:
            nodes = getter([key])
        except errors.NotFoundError:
            return None
        if not nodes:
            return None
        self.ids[(kind, key)] = nodes[0].id
        return nodes[0].id

    # --- types ----------------------------------------------------------------------------------

    def type_id(self, kind: NodeKind, name: str) -> tuple[int, dict[str, int]]:
        """(id, declared properties) of the type ``name``, creating it (without properties) if missing."""
        cached = self._types.get((kind, name))
        if cached is not None:
            return cached
        if kind == ARTIFACT:
            message = pb.ArtifactType(name=name)
            if name == "Model":
                message.base_type = MODEL_BASE_TYPE
            try:
                type_id = self.store.put_artifact_type(message, can_add_fields=True, can_omit_fields=True)
            except errors.UnimplementedError:  # a stored "Model" type with another base type
                type_id = self.store.put_artifact_type(pb.ArtifactType(name=name), can_add_fields=True,
                                                       can_omit_fields=True)
            [stored] = self.store.get_artifact_types_by_id([type_id])
        elif kind == EXECUTION:
            type_id = self.store.put_execution_type(pb.ExecutionType(name=name), can_add_fields=True,
                                                    can_omit_fields=True)
            [stored] = self.store.get_execution_types_by_id([type_id])
        else:
            type_id = self.store.put_context_type(pb.ContextType(name=name), can_add_fields=True,
                                                  can_omit_fields=True)
            [stored] = self.store.get_context_types_by_id([type_id])
        result = (type_id, dict(stored.properties))
        self._types[(kind, name)] = result
        return result

    @staticmethod
    def _fill_properties(message, props: dict, declared: dict[str, int], *, kind: NodeKind | None = None,
                         type_name: str = "") -> None:
        """Declared properties go to ``properties``, the rest to ``custom_properties``.

        A value for a declared property must have the declared type (an int may fill a DOUBLE);
        anything else raises InvalidArgumentError rather than landing somewhere the reader does not look.
        """
        for name, value in props.items():
            if value is None:
                continue
            target = pb.Value()
            to_value(value, target)
            declared_type = declared.get(name)
            if declared_type is None:
                message.custom_properties[name].CopyFrom(target)
            elif _VALUE_FIELDS.get(declared_type) == target.WhichOneof("value"):
                message.properties[name].CopyFrom(target)
            elif declared_type == pb.DOUBLE and target.WhichOneof("value") == "int_value":
                message.properties[name].double_value = float(value)
            else:
                shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
                raise errors.InvalidArgumentError(
                    f"property {name!r} of {kind.name if kind is not None else 'node'} type {type_name!r} is declared "
                    f"{PROPERTY_TYPE_NAMES.get(declared_type, declared_type)}; got {shown} "
                    f"(a {type(value).__name__}): pass a value of the declared type, or log it under "
                    "another name"
                )

    # --- contexts -------------------------------------------------------------------------------

    def _context(self, record: ContextRecord) -> int:
        key, type_name, name, props, parent_key = (record.key, record.type_name, record.name, record.props,
                                                   record.parent_key)
        type_id, declared = self.type_id(CONTEXT, type_name)
        context_id = self.ids.get((CONTEXT, key))
        if context_id is None:
            found = self.store.get_context_by_type_and_name(type_name, name)
            if found is None:
                message = pb.Context(type_id=type_id, name=name, external_id=key)
                self._fill_properties(message, props, declared, kind=CONTEXT, type_name=type_name)
                try:
                    [context_id] = self.store.put_contexts([message])
                except errors.AlreadyExistsError:
                    # Created meanwhile by another writer, or the external id is taken by another name.
                    found = self.store.get_context_by_type_and_name(type_name, name)
                    if found is None:
                        message.ClearField("external_id")
                        [context_id] = self.store.put_contexts([message])
                    else:
                        context_id = found.id
                props = {}
            else:
                context_id = found.id
            self.ids[(CONTEXT, key)] = context_id
        if props:
            # Merge: only the keys given change, so two processes on one run context keep each other's keys.
            message = pb.Context(id=context_id, type_id=type_id, name=name)
            self._fill_properties(message, props, declared, kind=CONTEXT, type_name=type_name)
            mask = [f"properties.{k}" for k in message.properties] + [
                f"custom_properties.{k}" for k in message.custom_properties
            ]
            if mask:
                self.store.put_contexts([message], field_mask_paths=mask)
        if parent_key:
            parent_id = self.ids.get((CONTEXT, parent_key)) or self.lookup(CONTEXT, parent_key)
            if parent_id is not None and (CONTEXT, context_id, parent_id) not in self._linked:
                try:
                    self.store.put_parent_contexts([pb.ParentContext(child_id=context_id, parent_id=parent_id)])
                except errors.AlreadyExistsError:
                    pass
                self._linked.add((CONTEXT, context_id, parent_id))
        return context_id

    def _context_ids(self, keys: Iterable[str]) -> list[int]:
        ids = []
        for key in keys:
            context_id = self.ids.get((CONTEXT, key)) or self.lookup(CONTEXT, key)
            if context_id is None:
                raise errors.FailedPreconditionError(f"context {key!r} was not recorded before its use")
            ids.append(context_id)
        return ids

    # --- executions -----------------------------------------------------------------------------

    def _execution(self, record: ExecutionRecord) -> int:
        key, type_name, props, name = record.key, record.type_name, record.props, record.name
        state, context_keys = record.state, record.context_keys
        type_id, declared = self.type_id(EXECUTION, type_name)
        message = pb.Execution(type_id=type_id, external_id=key, last_known_state=EXECUTION_STATES[state])
        self._fill_properties(message, props, declared, kind=EXECUTION, type_name=type_name)
        execution_id = self.lookup(EXECUTION, key)
        if execution_id is None:
            if name:
                message.name = name
            try:
                [execution_id] = self.store.put_executions([message])
            except errors.AlreadyExistsError:
                execution_id = self.lookup(EXECUTION, key)
                if execution_id is not None:  # stored meanwhile (a replay racing a live sender)
                    message.id = execution_id
                    self.store.put_executions([message])
                elif name:  # another execution of the type has the name (the same step twice in a run)
                    message.name = f"{name}#{key[:8]}"
                    [execution_id] = self.store.put_executions([message])
                else:
                    raise
            self.ids[(EXECUTION, key)] = execution_id
        else:
            message.id = execution_id
            self.store.put_executions([message])
        links = [c for c in self._context_ids(context_keys) if (EXECUTION, c, execution_id) not in self._linked]
        if links:
            self.store.put_attributions_and_associations(
                [], [pb.Association(context_id=c, execution_id=execution_id) for c in links]
            )
            self._linked.update((EXECUTION, c, execution_id) for c in links)
        return execution_id

    def _execution_properties(self, records: Sequence[ExecutionPropertiesRecord]) -> None:
        """Merge property changes into executions: one masked update per execution, whatever the count."""
        merged: dict[str, tuple[str, dict]] = {}
        for record in records:
            merged.setdefault(record.execution_key, (record.type_name, {}))[1].update(record.props)
        for key, (type_name, props) in merged.items():
            type_id, declared = self.type_id(EXECUTION, type_name)
            message = pb.Execution(id=self._execution_id(key), type_id=type_id)
            self._fill_properties(message, props, declared, kind=EXECUTION, type_name=type_name)
            mask = [f"properties.{k}" for k in message.properties] + [
                f"custom_properties.{k}" for k in message.custom_properties
            ]
            if mask:
                self.store.put_executions([message], field_mask_paths=mask)

    def _execution_id(self, key: str) -> int:
        execution_id = self.lookup(EXECUTION, key)
        if execution_id is None:
            raise errors.FailedPreconditionError(f"execution {key!r} was not recorded before its use")
        return execution_id

    # --- artifacts ------------------------------------------------------------------------------

    def _artifacts(self, records: Sequence[ArtifactRecord]) -> None:
        keys = [r.key for r in records if (ARTIFACT, r.key) not in self.ids and r.known_id is None]
        if keys:
            try:
                for artifact in self.store.get_artifacts_by_external_ids(list(dict.fromkeys(keys))):
                    self.ids[(ARTIFACT, artifact.external_id)] = artifact.id
            except errors.NotFoundError:
                pass
        execution_ids = {r.execution_key: self._execution_id(r.execution_key) for r in records}
        # Only an artifact that is already stored can already have the event (a replay, or an input).
        stored = sorted({r.known_id if r.known_id is not None else self.ids[(ARTIFACT, r.key)] for r in records
                         if r.known_id is not None or (ARTIFACT, r.key) in self.ids})
        present = {
            (e.artifact_id, e.execution_id, e.type)
            for e in (self.store.get_events_by_artifact_ids(stored) if stored else [])
        }
        new_artifacts: list[pb.Artifact] = []
        new_index: dict[str, int] = {}
        edges: list[tuple[int | None, int | None, pb.Event]] = []
        attributions: list[tuple[int, str | int]] = []  # (context id, artifact key or id)
        for record in records:
            key, type_name, uri, props, reuse = record.key, record.type_name, record.uri, record.props, record.reuse
            known_id = record.known_id
            execution_id = execution_ids[record.execution_key]
            event = pb.Event(execution_id=execution_id, type=EVENT_TYPES[record.event_type])
            if record.event_key is not None:
                event.path.steps.add().key = record.event_key
                event.path.steps.add().index = record.event_index or 0
            artifact_id = known_id if known_id is not None else self.ids.get((ARTIFACT, key))
            if artifact_id is None and reuse == "uri" and key not in new_index:
                artifact_id = self._newest_agreeing_at_uri(type_name, uri, props)
                if artifact_id is not None:
                    self.ids[(ARTIFACT, key)] = artifact_id
                    if artifact_id not in stored:  # its events were not read above: the step may have one
                        present.update((e.artifact_id, e.execution_id, e.type)
                                       for e in self.store.get_events_by_artifact_ids([artifact_id]))
            if artifact_id is not None:
                if (artifact_id, execution_id, event.type) not in present:
                    event.artifact_id = artifact_id
                    edges.append((None, None, event))
                    present.add((artifact_id, execution_id, event.type))
                target: str | int = artifact_id
            else:
                if key not in new_index:
                    type_id, declared = self.type_id(ARTIFACT, type_name)
                    artifact = pb.Artifact(type_id=type_id, external_id=key, state=pb.Artifact.LIVE)
                    if uri is not None:
                        artifact.uri = uri
                    self._fill_properties(artifact, props, declared, kind=ARTIFACT, type_name=type_name)
                    new_index[key] = len(new_artifacts)
                    new_artifacts.append(artifact)
                marker = (key, execution_id, event.type)
                if marker not in present:
                    edges.append((None, new_index[key], event))
                    present.add(marker)  # type: ignore[arg-type]
                target = key
            attributions.extend((c, target) for c in self._context_ids(record.context_keys))
        if new_artifacts or edges:
            _, artifact_ids, _ = self.store.put_lineage_subgraph([], new_artifacts, [], edges)
            for artifact, artifact_id in zip(new_artifacts, artifact_ids, strict=True):
                self.ids[(ARTIFACT, artifact.external_id)] = artifact_id
        pairs = {
            (context_id, target if isinstance(target, int) else self.ids[(ARTIFACT, target)])
            for context_id, target in attributions
        }
        pairs = {p for p in pairs if (ARTIFACT, p[0], p[1]) not in self._linked}
        if pairs:
            self.store.put_attributions_and_associations(
                [pb.Attribution(context_id=c, artifact_id=a) for c, a in sorted(pairs)], []
            )
            self._linked.update((ARTIFACT, c, a) for c, a in pairs)

    def _newest_agreeing_at_uri(self, type_name: str, uri: str | None, props: dict) -> int | None:
        """The newest artifact of the type at ``uri`` whose stored properties agree with ``props``."""
        if uri is None:
            return None
        type_id, _ = self.type_id(ARTIFACT, type_name)
        candidates = [a for a in self.store.get_artifacts_by_uri(uri) if a.type_id == type_id]
        agreeing = [a.id for a in candidates if _agrees(a, props)]
        return max(agreeing) if agreeing else None

    # --- metrics --------------------------------------------------------------------------------

    def _metrics(self, records: Sequence[MetricRecord]) -> None:
        series: dict[tuple[int, str], mpb.MetricSeries] = {}
        for record in records:
            execution_id = self._execution_id(record.execution_key)
            one = series.get((execution_id, record.name))
            if one is None:
                one = series[(execution_id, record.name)] = mpb.MetricSeries(execution_id=execution_id,
                                                                             name=record.name)
            one.seq.append(record.seq)
            one.step.append(record.step)
            one.value.append(math.nan if record.value is None else record.value)
            one.timestamp_ms.append(record.timestamp_ms)
        self.store.put_metric_series(list(series.values()))


__all__ = [
    "Applier",
    "ArtifactRecord",
    "ContextRecord",
    "ExecutionPropertiesRecord",
    "ExecutionRecord",
    "MetricRecord",
    "Record",
    "UnknownRecord",
    "decode",
    "encode",
    "from_fields",
    "from_value",
    "to_fields",
    "to_value",
]
