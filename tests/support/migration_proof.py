"""The migration proof's data: records written by SQL at any schema revision, and what every reader must answer.

    tables = reflected(engine)              # the tables as they are at the database's revision
    written = write_records(engine)         # a populated database, whatever that revision has
    assert_store_reads(store, written)      # after the upgrade: the head store answers it, field by field

``write_records`` reflects the tables and writes through SQL naming only the
columns the revision has (no mlineage code that knows the head schema), so the
rows are the ones a server of that revision left: types with versions, base
types and external ids; nodes with every property value type (int, double,
string, struct JSON, serialized ``Any``, bool) as declared and custom
properties; events with and without paths; attributions, associations and
parent contexts; then, from the revision that made their tables, metric
points, OpenLineage events, and history (the change log, an earlier revision
of a node in the ``*_history`` tables). ``Written`` holds what a reader must
answer: the expected messages, built here from the same values, never by
reading the store.

A revision that adds a table must add its records here: ``unwritten_tables``
names every table of the database left without a row, and the proof requires
it to be empty.
"""

from __future__ import annotations

import json
import math
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import any_pb2, json_format, struct_pb2
from sqlalchemy import Connection, Engine, MetaData, func, insert, select

from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metric_series_pb2 as mpb

# PropertyType numbers (MLMD's).
INT, DOUBLE, STRING, STRUCT, PROTO, BOOLEAN = 1, 2, 3, 4, 5, 6
KIND_EXECUTION, KIND_ARTIFACT, KIND_CONTEXT = 0, 1, 2
T0 = 1_700_000_000_000  # the records' times: fixed, so a reader's answer can be compared exactly
CHANGE_1, CHANGE_2 = 1, 2  # the change log's two rows (history revisions only)


def _any(text: str) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(struct_pb2.Value(string_value=text))  # a type the ml-metadata side has loaded
    return packed


def _struct() -> struct_pb2.Struct:
    value = struct_pb2.Struct()
    value.update({"list": [1, "two", True, None], "nested": {"k": 1.5, "empty": {}}, "unicode": "√ü"})
    return value


# Every value type, as a Value message and as the columns a property row holds it in.
VALUES: dict[str, tuple[int, pb.Value, dict[str, Any]]] = {
    "n": (INT, pb.Value(int_value=-(2**40)), {"int_value": -(2**40)}),
    "x": (DOUBLE, pb.Value(double_value=0.125), {"double_value": 0.125}),
    "s": (STRING, pb.Value(string_value="héllo\nwörld"), {"string_value": "héllo\nwörld"}),
    "st": (STRUCT, pb.Value(struct_value=_struct()),
           {"struct_value": json_format.MessageToJson(_struct(), indent=None, sort_keys=True)}),
    "p": (PROTO, pb.Value(proto_value=_any("packed")), {"proto_value": _any("packed").SerializeToString()}),
    "b": (BOOLEAN, pb.Value(bool_value=True), {"bool_value": True}),
}  # fmt: skip
# Custom properties with the values a careless reader loses (zero, false, empty text).
CUSTOM: dict[str, tuple[int, pb.Value, dict[str, Any]]] = {
    "zero": (INT, pb.Value(int_value=0), {"int_value": 0}),
    "off": (BOOLEAN, pb.Value(bool_value=False), {"bool_value": False}),
    "blank": (STRING, pb.Value(string_value=""), {"string_value": ""}),
    "any": (PROTO, pb.Value(proto_value=_any("custom")), {"proto_value": _any("custom").SerializeToString()}),
    "neg": (DOUBLE, pb.Value(double_value=-1e300), {"double_value": -1e300}),
    "obj": VALUES["st"],
}


def reflected(engine: Engine | Connection) -> MetaData:
    """The tables of the database as they are at its revision."""
    tables = MetaData()
    tables.reflect(engine)
    return tables


@dataclass
class Written:
    """What a database populated by ``write_records`` holds, as every reader must answer it."""

    tables: set[str]
    artifact_types: list[pb.ArtifactType] = field(default_factory=list)
    execution_types: list[pb.ExecutionType] = field(default_factory=list)
    context_types: list[pb.ContextType] = field(default_factory=list)
    artifacts: list[pb.Artifact] = field(default_factory=list)
    executions: list[pb.Execution] = field(default_factory=list)
    contexts: list[pb.Context] = field(default_factory=list)
    events: list[pb.Event] = field(default_factory=list)
    attributions: dict[int, list[int]] = field(default_factory=dict)  # context id -> artifact ids
    associations: dict[int, list[int]] = field(default_factory=dict)  # context id -> execution ids
    parents: dict[int, list[int]] = field(default_factory=dict)  # context id -> parent context ids
    metric_series: list[mpb.MetricSeries] = field(default_factory=list)
    openlineage_events: list[tuple[int, str]] = field(default_factory=list)
    # History (revisions that keep it): the artifact that has an earlier revision, as it was then.
    earlier: pb.Artifact | None = None
    history_kept: bool = False
    deleted: dict[str, int] = field(default_factory=dict)  # kind -> id of a node deleted by change 2


class _Writer:
    """Inserts rows naming only columns the revision's tables have (history columns where they exist)."""

    def __init__(self, connection: Connection, tables: MetaData) -> None:
        self.connection = connection
        self.tables = tables.tables
        self.history = "changes" in self.tables

    def insert(self, table_name: str, /, *, at_change: int = CHANGE_1, at_revision: int = 1, **values: Any) -> int | None:
        """Insert one row; live rows of a revision that keeps history get ``at_change``/``at_revision``."""
        name = table_name
        table = self.tables[name]
        if self.history and "change_id" in table.c:
            values.setdefault("change_id", at_change)
        if self.history and "revision" in table.c and "closed_by" not in table.c:
            values.setdefault("revision", at_revision)
        unknown = set(values) - set(table.c.keys())
        assert not unknown, f"{name} has no columns {sorted(unknown)} at this revision"
        statement = insert(table).values(**values)
        if "id" in table.c and "id" not in values:
            return self.connection.execute(statement.returning(table.c.id)).scalar_one()
        self.connection.execute(statement)
        return None

    def type_(self, kind: int, name: str, message: Any, *, version: str = "", **columns: Any) -> int:
        type_id = self.insert("types", kind=kind, name=name, version=version, **columns)
        assert type_id is not None
        for prop, (value_type, _, _) in VALUES.items():
            self.insert("type_properties", type_id=type_id, name=prop, data_type=value_type)
            message.properties[prop] = value_type
        message.id = type_id
        message.name = name
        if version:
            message.version = version
        for column in ("description", "external_id"):
            if columns.get(column) is not None:
                setattr(message, column, columns[column])
        if columns.get("base_type"):
            message.base_type = columns["base_type"]
        return type_id

    def properties(self, table: str, owner: str, owner_id: int, message: Any, declared: dict, custom: dict,
                   at_change: int = CHANGE_1) -> None:  # fmt: skip
        for is_custom, values in ((False, declared), (True, custom)):
            for name, (value_type, value, row) in values.items():
                self.insert(table, at_change=at_change, **{owner: owner_id}, name=name, is_custom=is_custom,
                            value_type=value_type, **row)  # fmt: skip
                (message.custom_properties if is_custom else message.properties)[name].CopyFrom(value)


def write_records(engine: Engine, tables: MetaData | None = None) -> Written:
    """Populate the database (at any revision) through SQL on its reflected tables; what it now holds.

    With ``tables`` (another database's, reflected at an older revision), the rows name only the
    columns and tables those have: what a server of that revision writes into a newer schema.
    """
    with engine.begin() as connection:
        tables = tables if tables is not None else reflected(connection)
        written = Written(tables=set(tables.tables))
        _write(_Writer(connection, tables), written)
    return written


def _write(w: _Writer, out: Written) -> None:
    if w.history:  # the change log first: every row below names the change that wrote it
        first = w.insert("changes", namespace="default", recorded_ms=T0, surface="python", actor="alice")
        second = w.insert("changes", namespace="default", recorded_ms=T0 + 100_000, surface="grpc", actor="bob",
                          peer="ipv4:10.0.0.7:50000")  # fmt: skip
        assert (first, second) == (CHANGE_1, CHANGE_2)
    dataset_t, model_t = pb.ArtifactType(), pb.ArtifactType()
    dataset = w.type_(KIND_ARTIFACT, "Dataset", dataset_t, description="a dataset", external_id="type:dataset",
                      base_type=1)  # fmt: skip
    model = w.type_(KIND_ARTIFACT, "Model", model_t, version="v2", base_type=2)
    trainer_t, pusher_t = pb.ExecutionType(), pb.ExecutionType()
    trainer = w.type_(KIND_EXECUTION, "Trainer", trainer_t, description="trains", external_id="type:trainer",
                      base_type=1)  # fmt: skip
    pusher = w.type_(KIND_EXECUTION, "Pusher", pusher_t)
    pipeline_t, run_t = pb.ContextType(), pb.ContextType()
    pipeline = w.type_(KIND_CONTEXT, "Pipeline", pipeline_t, external_id="type:pipeline")
    run = w.type_(KIND_CONTEXT, "Run", run_t, version="1")
    out.artifact_types = [dataset_t, model_t]
    out.execution_types = [trainer_t, pusher_t]
    out.context_types = [pipeline_t, run_t]

    # a1 has two revisions where history is kept: the earlier one (uri, one property) is in history.
    keep = w.history
    a1 = w.insert("artifacts", at_change=CHANGE_2 if keep else CHANGE_1, at_revision=2 if keep else 1,
                  type_id=dataset, uri="/data/train", name="train", external_id="ext:a1", state=2,
                  create_time_since_epoch=T0, last_update_time_since_epoch=T0 + 100_000,
                  system_metadata=_any("system").SerializeToString())  # fmt: skip
    a2 = w.insert("artifacts", type_id=model, uri="/models/m", create_time_since_epoch=T0 + 1,
                  last_update_time_since_epoch=T0 + 1)  # fmt: skip
    assert a1 is not None and a2 is not None
    artifact1 = pb.Artifact(id=a1, type_id=dataset, type="Dataset", uri="/data/train", name="train",
                            external_id="ext:a1", state=2, create_time_since_epoch=T0,
                            last_update_time_since_epoch=T0 + 100_000, system_metadata=_any("system"))  # fmt: skip
    w.properties("artifact_properties", "artifact_id", a1, artifact1, VALUES, CUSTOM,
                 at_change=CHANGE_2 if keep else CHANGE_1)  # fmt: skip
    artifact2 = pb.Artifact(id=a2, type_id=model, type="Model", uri="/models/m", create_time_since_epoch=T0 + 1,
                            last_update_time_since_epoch=T0 + 1)  # fmt: skip
    w.properties("artifact_properties", "artifact_id", a2, artifact2, {}, {"any": CUSTOM["any"]})
    out.artifacts = [artifact1, artifact2]

    e1 = w.insert("executions", type_id=trainer, name="train-1", external_id="ext:e1", last_known_state=3,
                  create_time_since_epoch=T0 + 2, last_update_time_since_epoch=T0 + 3)  # fmt: skip
    e2 = w.insert("executions", type_id=pusher, create_time_since_epoch=T0 + 4, last_update_time_since_epoch=T0 + 4)
    assert e1 is not None and e2 is not None
    execution1 = pb.Execution(id=e1, type_id=trainer, type="Trainer", name="train-1", external_id="ext:e1",
                              last_known_state=3, create_time_since_epoch=T0 + 2,
                              last_update_time_since_epoch=T0 + 3)  # fmt: skip
    w.properties("execution_properties", "execution_id", e1, execution1, VALUES, CUSTOM)
    execution2 = pb.Execution(id=e2, type_id=pusher, type="Pusher", create_time_since_epoch=T0 + 4,
                              last_update_time_since_epoch=T0 + 4)  # fmt: skip
    out.executions = [execution1, execution2]

    c1 = w.insert("contexts", type_id=pipeline, name="pipe", external_id="ext:c1", create_time_since_epoch=T0 + 5,
                  last_update_time_since_epoch=T0 + 6)  # fmt: skip
    c2 = w.insert("contexts", type_id=run, name="run-1", create_time_since_epoch=T0 + 7,
                  last_update_time_since_epoch=T0 + 7)  # fmt: skip
    assert c1 is not None and c2 is not None
    context1 = pb.Context(id=c1, type_id=pipeline, type="Pipeline", name="pipe", external_id="ext:c1",
                          create_time_since_epoch=T0 + 5, last_update_time_since_epoch=T0 + 6)  # fmt: skip
    w.properties("context_properties", "context_id", c1, context1, VALUES, CUSTOM)
    context2 = pb.Context(id=c2, type_id=run, type="Run", name="run-1", create_time_since_epoch=T0 + 7,
                          last_update_time_since_epoch=T0 + 7)  # fmt: skip
    out.contexts = [context1, context2]

    for artifact_id, execution_id, kind, steps, ms in (
        (a1, e1, 3, [{"index": 0}, {"key": "train"}], T0 + 10),  # INPUT, a path of an index and a key
        (a2, e1, 4, None, T0 + 11),  # OUTPUT without a path
        (a2, e2, 3, [{"key": "model"}, {"index": -1}], T0 + 12),
    ):
        w.insert("events", artifact_id=artifact_id, execution_id=execution_id, type=kind, milliseconds_since_epoch=ms,
                 path=None if steps is None else json.dumps(steps, separators=(",", ":")))  # fmt: skip
        event = pb.Event(artifact_id=artifact_id, execution_id=execution_id, type=kind, milliseconds_since_epoch=ms)
        for step in steps or ():
            added = event.path.steps.add()
            if "index" in step:
                added.index = step["index"]
            else:
                added.key = step["key"]
        out.events.append(event)

    for context_id, artifact_id in ((c2, a1), (c2, a2), (c1, a1)):
        w.insert("attributions", context_id=context_id, artifact_id=artifact_id)
        out.attributions.setdefault(context_id, []).append(artifact_id)
    for context_id, execution_id in ((c2, e1), (c2, e2)):
        w.insert("associations", context_id=context_id, execution_id=execution_id)
        out.associations.setdefault(context_id, []).append(execution_id)
    w.insert("parent_contexts", child_id=c2, parent_id=c1)
    out.parents = {c1: [], c2: [c1]}

    if "metric_points" in w.tables:
        series = mpb.MetricSeries(execution_id=e1, name="loss")
        for seq, (step, value) in enumerate(((10, 0.9), (20, 0.5), (30, 0.25))):
            w.insert("metric_points", execution_id=e1, name="loss", seq=seq, step=step, value=value,
                     timestamp_ms=T0 + 20 + seq)  # fmt: skip
            series.seq.append(seq)
            series.step.append(step)
            series.value.append(value)
            series.timestamp_ms.append(T0 + 20 + seq)
        out.metric_series = [series]

    if "tokens" in w.tables:  # authentication's tables (0005): a token (its hash only) and a namespace
        w.insert("tokens", id="0123456789ab", name="ci", namespace="default", role="writer", salt="00" * 16,
                 secret_hash="ab" * 32, created_ms=T0, expires_ms=None, revoked_ms=None)  # fmt: skip
        w.insert("namespaces", name="team-a", created_ms=T0, description="a team")
    if "openlineage_events" in w.tables:
        payload = json.dumps({"eventType": "COMPLETE", "eventTime": "2023-11-14T22:13:20Z",
                              "run": {"runId": "0190b6b2-0000-7000-8000-000000000001"},
                              "job": {"namespace": "ns", "name": "job"}, "producer": "https://example.com/p"})  # fmt: skip
        event_id = w.insert("openlineage_events", namespace="default", received_time_since_epoch=T0 + 30,
                            event_time="2023-11-14T22:13:20Z", event_type="COMPLETE",
                            run_id="0190b6b2-0000-7000-8000-000000000001", job_namespace="ns", job_name="job",
                            producer="https://example.com/p", payload=payload)  # fmt: skip
        assert event_id is not None
        out.openlineage_events = [(event_id, payload)]

    if keep:
        _write_history(w, out, artifact1)


def _write_history(w: _Writer, out: Written, artifact1: pb.Artifact) -> None:
    """a1's first revision (another uri, one custom property fewer), closed by change 2."""
    earlier = pb.Artifact()
    earlier.CopyFrom(artifact1)
    earlier.uri = "/data/train-v1"
    earlier.last_update_time_since_epoch = T0
    del earlier.custom_properties["zero"]
    w.insert("artifacts_history", id=artifact1.id, namespace="default", type_id=artifact1.type_id, name="train",
             external_id="ext:a1", uri="/data/train-v1", state=2, create_time_since_epoch=T0,
             last_update_time_since_epoch=T0, system_metadata=_any("system").SerializeToString(), revision=1,
             change_id=CHANGE_1, closed_by=CHANGE_2)  # fmt: skip
    for is_custom, values in ((False, VALUES), (True, CUSTOM)):
        for name, (value_type, _, row) in values.items():
            if is_custom and name == "zero":
                continue
            w.insert("artifact_properties_history", artifact_id=artifact1.id, name=name, is_custom=is_custom,
                     value_type=value_type, **row, change_id=CHANGE_1, revision=1, closed_by=CHANGE_2)  # fmt: skip
    out.earlier = earlier
    out.history_kept = True
    _write_history_of_removed(w, out)


def _write_history_of_removed(w: _Writer, out: Written) -> None:
    """Change 2 also changed a type's description and deleted an execution and a context with their links.

    Their earlier versions are in the ``*_history`` tables, closed by change 2; the live rows are gone.
    Readers of today's records must not see them; their history ends with the deletion.
    """
    types = w.tables["types"]
    dataset = out.artifact_types[0]
    w.insert("types_history", id=dataset.id, namespace="default", kind=KIND_ARTIFACT, name="Dataset", version="",
             description="an early dataset", external_id="type:dataset", base_type=1, revision=1,
             change_id=CHANGE_1, closed_by=CHANGE_2)  # fmt: skip
    for prop, (value_type, _, _) in VALUES.items():
        w.insert("type_properties_history", type_id=dataset.id, name=prop, data_type=value_type, change_id=CHANGE_1,
                 revision=1, closed_by=CHANGE_2)  # fmt: skip
    w.connection.execute(types.update().where(types.c.id == dataset.id).values(revision=2, change_id=CHANGE_2))
    properties = w.tables["type_properties"]
    w.connection.execute(properties.update().where(properties.c.type_id == dataset.id).values(change_id=CHANGE_2))

    a1, trainer, pipeline = out.artifacts[0].id, out.execution_types[0].id, out.context_types[0].id
    run_id, parent_id = out.contexts[1].id, out.contexts[0].id
    e3 = w.insert("executions", type_id=trainer, name="deleted", last_known_state=4, create_time_since_epoch=T0 + 8,
                  last_update_time_since_epoch=T0 + 8)  # fmt: skip
    c3 = w.insert("contexts", type_id=pipeline, name="deleted", create_time_since_epoch=T0 + 9,
                  last_update_time_since_epoch=T0 + 9)  # fmt: skip
    event = w.insert("events", artifact_id=a1, execution_id=e3, type=4, path=None, milliseconds_since_epoch=T0 + 13)
    closed = {"change_id": CHANGE_1, "closed_by": CHANGE_2}
    history_rows = [
        ("executions_history", {"id": e3, "namespace": "default", "type_id": trainer, "name": "deleted",
                                "external_id": None, "last_known_state": 4, "create_time_since_epoch": T0 + 8,
                                "last_update_time_since_epoch": T0 + 8, "revision": 1}),
        ("execution_properties_history", {"execution_id": e3, "name": "n", "is_custom": False, "value_type": INT,
                                          "int_value": 3, "revision": 1}),
        ("contexts_history", {"id": c3, "namespace": "default", "type_id": pipeline, "name": "deleted",
                              "external_id": None, "create_time_since_epoch": T0 + 9,
                              "last_update_time_since_epoch": T0 + 9, "revision": 1}),
        ("context_properties_history", {"context_id": c3, "name": "note", "is_custom": True, "value_type": STRING,
                                        "string_value": "gone", "revision": 1}),
        ("events_history", {"id": event, "artifact_id": a1, "execution_id": e3, "type": 4, "path": None,
                            "milliseconds_since_epoch": T0 + 13}),
        ("associations_history", {"context_id": c3, "execution_id": e3}),
        ("attributions_history", {"context_id": c3, "artifact_id": a1}),
        ("parent_contexts_history", {"child_id": c3, "parent_id": parent_id}),
        ("parent_contexts_history", {"child_id": run_id, "parent_id": c3}),
    ]  # fmt: skip
    for table, row in history_rows:
        w.insert(table, **row, **closed)
    # The live rows of the deleted nodes go (their links first: SQLite may run without foreign keys).
    events, executions, contexts = w.tables["events"], w.tables["executions"], w.tables["contexts"]
    w.connection.execute(events.delete().where(events.c.id == event))
    w.connection.execute(executions.delete().where(executions.c.id == e3))
    w.connection.execute(contexts.delete().where(contexts.c.id == c3))
    out.deleted = {"execution": e3, "context": c3}


def unwritten_tables(engine: Engine) -> list[str]:
    """Tables of the database that hold no row (the proof writes every table its revision has)."""
    with engine.connect() as connection:
        tables = reflected(connection)
        return sorted(
            name for name, table in tables.tables.items()
            if connection.execute(select(func.count()).select_from(table)).scalar_one() == 0
        )  # fmt: skip


def table_rows(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table (columns by name, rows sorted), to compare a database before and after."""
    with engine.connect() as connection:
        tables = reflected(connection)
        out: dict[str, list[dict[str, Any]]] = {}
        for name, table in sorted(tables.tables.items()):
            rows = [
                {k: (bytes(v) if isinstance(v, memoryview) else v) for k, v in row.items()}
                for row in connection.execute(select(table)).mappings()
            ]
            out[name] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=repr))
        return out


def fields(message: Any) -> dict[str, Any]:
    """A message as a dict of its fields by proto name (as the ml-metadata side prints them)."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def same_double(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _same(got: Any, want: Any, what: str) -> None:
    got_fields = [fields(m) for m in got]
    want_fields = [fields(m) for m in want]
    assert got_fields == want_fields, f"{what}: the store answers\n{got_fields}\nbut the database holds\n{want_fields}"


def _by_id(messages: Any) -> list[Any]:
    return sorted(messages, key=lambda m: m.id)


def _event_key(event: Any) -> tuple[int, int, int]:
    return (event.artifact_id, event.execution_id, event.type)


def assert_store_reads(store: Any, w: Written) -> None:
    """Every record of ``w`` reads back from ``store`` (a head ``Store``) exactly as written, field by field."""
    from mlineage.metadata.options import ListOptions

    for kind, written_types in (("artifact", w.artifact_types), ("execution", w.execution_types),
                                ("context", w.context_types)):  # fmt: skip
        ids = [t.id for t in written_types]
        _same(_by_id(getattr(store, f"get_{kind}_types_by_id")(ids)), written_types, f"{kind} types by id")
        # MLMD's listing of every type leaves external_id out (its other reads answer it): not compared here.
        listed = [fields(t) for t in _by_id(getattr(store, f"get_{kind}_types")())]
        assert [{k: v for k, v in t.items() if k != "external_id"} for t in listed] == [
            {k: v for k, v in fields(t).items() if k != "external_id"} for t in written_types], f"{kind} types"  # fmt: skip
    _same([store.get_artifact_type("Model", "v2")], [w.artifact_types[1]], "a type by name and version")
    _same(store.get_execution_types_by_external_ids(["type:trainer"]), [w.execution_types[0]], "type by external id")

    for kind, written in (("artifacts", w.artifacts), ("executions", w.executions), ("contexts", w.contexts)):
        _same(_by_id(getattr(store, f"get_{kind}")()), written, f"all {kind}")
        _same(_by_id(getattr(store, f"get_{kind}_by_id")([n.id for n in written])), written, f"{kind} by id")
        _same(getattr(store, f"get_{kind}_by_external_ids")([f"ext:{kind[0]}1"]), written[:1], f"{kind} by external id")
    _same(store.get_artifacts_by_uri("/models/m"), w.artifacts[1:], "artifacts by uri")
    _same([store.get_artifact_by_type_and_name("Dataset", "train")], w.artifacts[:1], "artifact by type and name")
    # Filters reach the property rows: one per value column a filter can compare.
    for query in ("properties.n.int_value = -1099511627776", "properties.x.double_value = 0.125",
                  "properties.s.string_value = 'héllo\nwörld'", "properties.b.bool_value = true",
                  "custom_properties.zero.int_value = 0", "custom_properties.off.bool_value = false"):  # fmt: skip
        _same(store.get_artifacts(ListOptions(filter_query=query)), w.artifacts[:1], f"artifacts where {query}")

    execution_ids = [e.id for e in w.executions]
    events = sorted(w.events, key=_event_key)
    _same(sorted(store.get_events_by_execution_ids(execution_ids), key=_event_key), events, "events by execution")
    _same(sorted(store.get_events_by_artifact_ids([a.id for a in w.artifacts]), key=_event_key), events,
          "events by artifact")  # fmt: skip
    contexts = {c.id: c for c in w.contexts}
    for context in w.contexts:
        attributed = sorted(a.id for a in store.get_artifacts_by_context(context.id))
        assert attributed == sorted(w.attributions.get(context.id, [])), f"attributions of context {context.id}"
        associated = sorted(e.id for e in store.get_executions_by_context(context.id))
        assert associated == sorted(w.associations.get(context.id, [])), f"associations of context {context.id}"
        _same(_by_id(store.get_parent_contexts_by_context(context.id)),
              [contexts[i] for i in w.parents[context.id]], f"parents of context {context.id}")  # fmt: skip
        children = [i for i, parents in w.parents.items() if context.id in parents]
        _same(_by_id(store.get_children_contexts_by_context(context.id)), [contexts[i] for i in children],
              f"children of context {context.id}")  # fmt: skip
    for artifact in w.artifacts:
        expected = sorted(c for c, ids in w.attributions.items() if artifact.id in ids)
        assert [c.id for c in _by_id(store.get_contexts_by_artifact(artifact.id))] == expected

    assert store.get_metric_series(execution_ids) == w.metric_series
    assert store.get_openlineage_events() == w.openlineage_events
    _assert_history(store, w)


def _assert_history(store: Any, w: Written) -> None:
    first = w.artifacts[0]
    revisions = store.get_artifact_history(first.id)
    if not w.history_kept:
        # Written before history was kept: one revision, its creation, by the migration.
        [only] = revisions
        assert (only.revision, only.operation, only.time_ms, only.surface) == (
            1, "create", first.create_time_since_epoch, "migration")  # fmt: skip
        _same([only.node], [first], "the one revision of an artifact written before history")
        return
    assert [(r.revision, r.operation, r.time_ms, r.surface, r.actor, r.peer) for r in revisions] == [
        (1, "create", T0, "python", "alice", None),
        (2, "update", T0 + 100_000, "grpc", "bob", "ipv4:10.0.0.7:50000"),
    ]
    assert w.earlier is not None
    _same([r.node for r in revisions], [w.earlier, first], "the revisions of an artifact")
    assert revisions[1].changed == ("uri", "custom_properties.zero")
    then = store.as_of(T0 + 50_000)
    _same(then.get_artifacts_by_id([first.id]), [w.earlier], "an artifact as of before its update")
    dataset_then = pb.ArtifactType()
    dataset_then.CopyFrom(w.artifact_types[0])
    dataset_then.description = "an early dataset"
    _same([then.get_artifact_type("Dataset")], [dataset_then], "a type as of before its update")
    execution, context = w.deleted["execution"], w.deleted["context"]
    assert store.get_executions_by_id([execution]) == [] and store.get_contexts_by_id([context]) == []
    assert [r.operation for r in store.get_execution_history(execution)] == ["create", "delete"]
    assert [r.operation for r in store.get_context_history(context)] == ["create", "delete"]
    [deleted] = then.get_executions_by_id([execution])
    assert (deleted.name, deleted.properties["n"].int_value) == ("deleted", 3)
    assert sorted(e.id for e in then.get_executions_by_context(context)) == [execution]
    assert [c.id for c in then.get_parent_contexts_by_context(w.contexts[1].id)] == sorted(
        [w.contexts[0].id, context])  # fmt: skip


def store_dump(store: Any) -> dict:
    """What mlmd_import_source.py's dump prints (the ml-metadata client's answers), answered by a Store in-process."""
    out: dict = {}
    for kind in ("artifact", "execution", "context"):
        out[f"{kind}_types"] = [fields(t) for t in sorted(getattr(store, f"get_{kind}_types")(), key=lambda t: t.id)]
    artifacts = sorted(store.get_artifacts(), key=lambda n: n.id)
    executions = sorted(store.get_executions(), key=lambda n: n.id)
    contexts = sorted(store.get_contexts(), key=lambda n: n.id)
    out.update(artifacts=[fields(n) for n in artifacts], executions=[fields(n) for n in executions],
               contexts=[fields(n) for n in contexts])  # fmt: skip

    def events(found):
        return [fields(e) for e in sorted(found, key=lambda e: (e.artifact_id, e.execution_id, e.type))]

    out["events"] = events(store.get_events_by_execution_ids([n.id for n in executions]))
    out["events_by_artifact"] = {str(a.id): events(store.get_events_by_artifact_ids([a.id])) for a in artifacts}
    out["attributions"] = {str(c.id): sorted(a.id for a in store.get_artifacts_by_context(c.id)) for c in contexts}
    out["associations"] = {str(c.id): sorted(e.id for e in store.get_executions_by_context(c.id)) for c in contexts}
    out["parents"] = {str(c.id): sorted(p.id for p in store.get_parent_contexts_by_context(c.id)) for c in contexts}
    out["children"] = {str(c.id): sorted(p.id for p in store.get_children_contexts_by_context(c.id)) for c in contexts}
    out["by_id"] = {
        "artifacts": [fields(n) for n in sorted(store.get_artifacts_by_id([n.id for n in artifacts]), key=lambda n: n.id)],
        "executions": [fields(n) for n in sorted(store.get_executions_by_id([n.id for n in executions]), key=lambda n: n.id)],
        "contexts": [fields(n) for n in sorted(store.get_contexts_by_id([n.id for n in contexts]), key=lambda n: n.id)],
    }  # fmt: skip
    request = pb.LineageSubgraphQueryOptions(max_num_hops=4)
    request.starting_artifacts.filter_query = f"id = {artifacts[0].id}"
    graph = store.get_lineage_subgraph(request)
    out["lineage_subgraph"] = {
        "artifacts": sorted(a.id for a in graph.artifacts),
        "executions": sorted(e.id for e in graph.executions),
        "contexts": sorted(c.id for c in graph.contexts),
        "events": [list(k) for k in sorted((e.artifact_id, e.execution_id, e.type) for e in graph.events)],
    }
    return out


def client_dump(target: str) -> dict:
    """The unmodified ml-metadata client's answers from the server at ``target`` (mlmd_import_source.py dump)."""
    from grpc_server import require_mlmd_python

    python = require_mlmd_python()
    result = subprocess.run([python, str(Path(__file__).with_name("mlmd_import_source.py")), "dump", "--grpc", target], capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)
