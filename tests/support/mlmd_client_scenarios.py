"""Scenarios for the real ml-metadata client, run under the ml-metadata environment (protobuf 4.25).

    python tests/mlmd_client_scenarios.py --grpc HOST:PORT [--reference] [--ca F [--key F --cert F]] GROUP...

Each GROUP calls `ml_metadata.MetadataStore` methods against the server and
prints one JSON object {GROUP: result}. With --reference the same group also
runs against MLMD's own in-process store (a fresh SQLite file) and the output
is {GROUP: {"server": result, "reference": result}}, so a test can compare
mlineage with MLMD itself.

Results never hold raw ids: every node a group creates gets a label ("a1",
"e1", "c1"), and ids in results are printed as those labels, so results are
the same whichever groups ran before on the server's database. Type names are
prefixed per group on the wire and printed without the prefix.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from google.protobuf import any_pb2, json_format, struct_pb2
from ml_metadata import errors
from ml_metadata.metadata_store import ListOptions, MetadataStore, OrderByField
from ml_metadata.proto import metadata_store_pb2 as mlmd

SCENARIOS: dict[str, Callable[[Group], Any]] = {}


def scenario(fn: Callable[[Group], Any]) -> Callable[[Group], Any]:
    SCENARIOS[fn.__name__] = fn
    return fn


STRING, INT, DOUBLE, BOOLEAN, STRUCT, PROTO = (
    mlmd.STRING, mlmd.INT, mlmd.DOUBLE, mlmd.BOOLEAN, mlmd.STRUCT, mlmd.PROTO,
)  # fmt: skip


class Group:
    """One scenario group's store, name prefix and id labels."""

    def __init__(self, store: MetadataStore, name: str) -> None:
        self.store = store
        self.prefix = f"{name}__"
        self.labels: dict[str, dict[int, str]] = {"artifact": {}, "execution": {}, "context": {}, "type": {}}

    # names and labels
    def t(self, name: str) -> str:
        """A type (or node) name unique to this group on the wire."""
        return self.prefix + name

    def strip(self, name: str) -> str:
        return name[len(self.prefix) :] if name.startswith(self.prefix) else name

    def label(self, kind: str, ids: list[int], labels: list[str]) -> None:
        assert len(ids) == len(labels), (ids, labels)
        for node_id, label in zip(ids, labels, strict=True):
            self.labels[kind][node_id] = label

    def name_of(self, kind: str, node_id: int) -> str:
        return self.labels[kind].get(node_id, f"?{node_id}")

    def names(self, kind: str, ids) -> list[str]:
        return [self.name_of(kind, node_id) for node_id in ids]

    def sorted_names(self, kind: str, ids) -> list[str]:
        return sorted(self.names(kind, ids))

    # rendering
    def node(self, node) -> dict[str, Any]:
        kind = {"Artifact": "artifact", "Execution": "execution", "Context": "context"}[node.DESCRIPTOR.name]
        out: dict[str, Any] = {"label": self.name_of(kind, node.id), "type": self.strip(node.type)}
        out["type_id"] = self.strip(self.name_of("type", node.type_id))
        for field in ("name", "uri", "external_id"):
            if field in node.DESCRIPTOR.fields_by_name and node.HasField(field):
                out[field] = getattr(node, field) if field == "uri" else self.strip(getattr(node, field))
        if kind == "artifact" and node.HasField("state"):
            out["state"] = mlmd.Artifact.State.Name(node.state)
        if kind == "execution" and node.HasField("last_known_state"):
            out["last_known_state"] = mlmd.Execution.State.Name(node.last_known_state)
        if node.properties:
            out["properties"] = {key: value_of(v) for key, v in sorted(node.properties.items())}
        if node.custom_properties:
            out["custom_properties"] = {key: value_of(v) for key, v in sorted(node.custom_properties.items())}
        out["times_set"] = node.create_time_since_epoch > 0 and (
            node.last_update_time_since_epoch >= node.create_time_since_epoch
        )
        return out

    def nodes(self, nodes) -> list[dict[str, Any]]:
        return sorted((self.node(n) for n in nodes), key=lambda n: n["label"])

    def event(self, event) -> dict[str, Any]:
        steps = [
            {"index": step.index} if step.WhichOneof("value") == "index" else {"key": step.key}
            for step in event.path.steps
        ]
        return {
            "artifact": self.name_of("artifact", event.artifact_id),
            "execution": self.name_of("execution", event.execution_id),
            "type": mlmd.Event.Type.Name(event.type),
            "path": steps,
            "time_set": event.milliseconds_since_epoch > 0,
        }

    def events(self, events) -> list[dict[str, Any]]:
        return sorted((self.event(e) for e in events), key=lambda e: (e["artifact"], e["execution"], e["type"]))

    def type(self, node_type) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.strip(node_type.name)}
        if node_type.HasField("version"):
            out["version"] = node_type.version
        if node_type.HasField("description"):
            out["description"] = node_type.description
        if node_type.HasField("external_id"):
            out["external_id"] = self.strip(node_type.external_id)
        if node_type.HasField("base_type"):
            out["base_type"] = node_type.DESCRIPTOR.enum_types_by_name["SystemDefinedBaseType"].values_by_number[
                node_type.base_type
            ].name
        out["properties"] = {key: mlmd.PropertyType.Name(v) for key, v in sorted(node_type.properties.items())}
        return out

    def types(self, node_types) -> list[dict[str, Any]]:
        return sorted((self.type(t) for t in node_types), key=lambda t: (t["name"], t.get("version", "")))

    def own_type_names(self, node_types) -> list[str]:
        """Names of this group's types (and the system types), ignoring other groups'."""
        return sorted(
            self.strip(t.name) + (f"@{t.version}" if t.version else "")
            for t in node_types
            if t.name.startswith(self.prefix) or t.name.startswith("mlmd.")
        )

    def own_type_ids_are_system(self, node_types) -> dict[str, int]:
        return {t.name: t.id for t in node_types if t.name.startswith("mlmd.")}


def value_of(value: mlmd.Value) -> Any:
    which = value.WhichOneof("value")
    if which == "struct_value":
        return {"struct": json_format.MessageToDict(value.struct_value)}
    if which == "proto_value":
        return {"proto": value.proto_value.type_url, "bytes": len(value.proto_value.value)}
    return getattr(value, which) if which else None


def attempt(call: Callable[[], Any]) -> Any:
    """The call's result, or {"error": <ml_metadata.errors class name>}."""
    try:
        return call()
    except errors.StatusError as exc:
        return {"error": type(exc).__name__}


def err(call: Callable[[], Any]) -> str:
    """The name of the error the call raises ("none" if it does not)."""
    try:
        call()
    except errors.StatusError as exc:
        return type(exc).__name__
    return "none"


def struct(data: dict) -> mlmd.Value:
    value = mlmd.Value()
    value.struct_value.update(data)
    return value


def proto_value() -> mlmd.Value:
    any_value = any_pb2.Any()
    any_value.Pack(struct_pb2.Struct(fields={"k": struct_pb2.Value(string_value="v")}))
    return mlmd.Value(proto_value=any_value)


def event(event_type: int, artifact_id: int = 0, execution_id: int = 0, path: list | None = None) -> mlmd.Event:
    out = mlmd.Event(type=event_type)
    if artifact_id:
        out.artifact_id = artifact_id
    if execution_id:
        out.execution_id = execution_id
    for step in path or []:
        if isinstance(step, int):
            out.path.steps.add().index = step
        else:
            out.path.steps.add().key = step
    return out


def artifact(type_id: int, name: str | None = None, uri: str | None = None, **kwargs) -> mlmd.Artifact:
    out = mlmd.Artifact(type_id=type_id, **kwargs)
    if name is not None:
        out.name = name
    if uri is not None:
        out.uri = uri
    return out


# --- groups --------------------------------------------------------------------------------------


@scenario
def smoke(g: Group) -> dict[str, Any]:
    """One write and one read, or the error class of the first call that fails (for TLS checks)."""
    s = g.store
    type_id = attempt(lambda: s.put_artifact_type(mlmd.ArtifactType(name=g.t("Smoke"))))
    if isinstance(type_id, dict):
        return type_id
    [aid] = s.put_artifacts([artifact(type_id, g.t("s1"), "/smoke/s1")])
    g.label("type", [type_id], [g.t("Smoke")])
    g.label("artifact", [aid], ["s1"])
    return {"artifacts": [g.node(a) for a in s.get_artifacts_by_type(g.t("Smoke"))]}


@scenario
def types(g: Group) -> dict[str, Any]:
    s = g.store
    r: dict[str, Any] = {}
    model = mlmd.ArtifactType(
        name=g.t("Model"), description="a model", external_id=g.t("model-type"),
        base_type=mlmd.ArtifactType.MODEL,
    )  # fmt: skip
    model.properties["acc"] = DOUBLE
    model.properties["layers"] = INT
    model_id = s.put_artifact_type(model)
    g.label("type", [model_id], [g.t("Model")])
    r["user_type_ids_after_system_types"] = model_id > 9
    r["same_type_same_id"] = s.put_artifact_type(model) == model_id

    wider = mlmd.ArtifactType()
    wider.CopyFrom(model)
    wider.properties["framework"] = STRING
    r["add_without_can_add"] = err(lambda: s.put_artifact_type(wider))
    r["add_with_can_add_same_id"] = s.put_artifact_type(wider, can_add_fields=True) == model_id
    changed = mlmd.ArtifactType()
    changed.CopyFrom(wider)
    changed.properties["acc"] = STRING
    r["change_property_type"] = err(lambda: s.put_artifact_type(changed, can_add_fields=True))
    narrower = mlmd.ArtifactType(name=g.t("Model"))
    narrower.properties["acc"] = DOUBLE
    r["omit_without_can_omit"] = err(lambda: s.put_artifact_type(narrower))
    r["omit_with_can_omit_same_id"] = s.put_artifact_type(narrower, can_omit_fields=True) == model_id
    r["model"] = g.type(s.get_artifact_type(g.t("Model")))

    v2 = mlmd.ArtifactType(name=g.t("Model"), version="v2")
    v2.properties["acc"] = INT
    v2_id = s.put_artifact_type(v2)
    g.label("type", [v2_id], [g.t("Model@v2")])
    r["version_is_new_type"] = v2_id != model_id
    r["model_v2"] = g.type(s.get_artifact_type(g.t("Model"), type_version="v2"))
    r["model_v3_missing"] = err(lambda: s.get_artifact_type(g.t("Model"), type_version="v3"))
    # Nodes of two versions of one type: the same name may be used once per version.
    [x1] = s.put_artifacts([artifact(model_id, g.t("x"), "/v1/x")])
    [x2] = s.put_artifacts([artifact(v2_id, g.t("x"), "/v2/x")])
    g.label("artifact", [x1, x2], ["x@v1", "x@v2"])
    r["by_type_version"] = {
        "unversioned": g.names("artifact", [a.id for a in s.get_artifacts_by_type(g.t("Model"))]),
        "v2": g.names("artifact", [a.id for a in s.get_artifacts_by_type(g.t("Model"), "v2")]),
        "v3": attempt(lambda: s.get_artifacts_by_type(g.t("Model"), "v3")),
        "by_name_v2": g.name_of("artifact", s.get_artifact_by_type_and_name(g.t("Model"), g.t("x"), "v2").id),
        "by_name_unversioned": g.name_of("artifact", s.get_artifact_by_type_and_name(g.t("Model"), g.t("x")).id),
        "by_name_v3": s.get_artifact_by_type_and_name(g.t("Model"), g.t("x"), type_version="v3"),
        "executions_v9": attempt(lambda: s.get_executions_by_type(g.t("Trainer"), "v9")),
        "contexts_v9": attempt(lambda: s.get_contexts_by_type(g.t("Pipeline"), "v9")),
        "execution_by_name_v9": attempt(lambda: s.get_execution_by_type_and_name(g.t("Trainer"), "n", "v9")),
        "context_by_name_v9": attempt(lambda: s.get_context_by_type_and_name(g.t("Pipeline"), "n", "v9")),
        "execution_type_v9": err(lambda: s.get_execution_type(g.t("Trainer"), "v9")),
        "context_type_v9": err(lambda: s.get_context_type(g.t("Pipeline"), "v9")),
    }

    trainer = mlmd.ExecutionType(name=g.t("Trainer"), base_type=mlmd.ExecutionType.TRAIN, external_id=g.t("trainer"))
    trainer.properties["steps"] = INT
    trainer_id = s.put_execution_type(trainer)
    r["execution_type_same_id"] = s.put_execution_type(trainer) == trainer_id
    trainer.properties["lr"] = DOUBLE
    r["execution_type_add_without_can_add"] = err(lambda: s.put_execution_type(trainer))
    r["execution_type_add_with_can_add"] = s.put_execution_type(trainer, can_add_fields=True) == trainer_id
    r["execution_type_omit_with_can_omit"] = (
        s.put_execution_type(mlmd.ExecutionType(name=g.t("Trainer")), can_omit_fields=True) == trainer_id
    )
    r["trainer"] = g.type(s.get_execution_type(g.t("Trainer")))

    pipeline = mlmd.ContextType(name=g.t("Pipeline"), external_id=g.t("pipeline"), description="runs")
    pipeline.properties["owner"] = STRING
    pipeline_id = s.put_context_type(pipeline)
    r["context_type_same_id"] = s.put_context_type(pipeline) == pipeline_id
    pipeline.properties["owner"] = INT
    r["context_type_change_property_type"] = err(lambda: s.put_context_type(pipeline, can_add_fields=True))
    pipeline.properties["owner"] = STRING
    pipeline.properties["team"] = STRING
    r["context_type_add_with_can_add"] = s.put_context_type(pipeline, can_add_fields=True) == pipeline_id
    r["pipeline"] = g.type(s.get_context_type(g.t("Pipeline")))

    r["missing"] = {
        "artifact_type": err(lambda: s.get_artifact_type(g.t("Nope"))),
        "execution_type": err(lambda: s.get_execution_type(g.t("Nope"))),
        "context_type": err(lambda: s.get_context_type(g.t("Nope"))),
        "artifact_type_by_execution_name": err(lambda: s.get_artifact_type(g.t("Trainer"))),
    }
    r["artifact_types"] = g.own_type_names(s.get_artifact_types())
    r["execution_types"] = g.own_type_names(s.get_execution_types())
    r["context_types"] = g.own_type_names(s.get_context_types())
    r["system_artifact_type_ids"] = g.own_type_ids_are_system(s.get_artifact_types())
    r["system_execution_type_ids"] = g.own_type_ids_are_system(s.get_execution_types())
    r["artifact_types_by_id"] = [g.strip(t.name) for t in s.get_artifact_types_by_id([model_id, v2_id, 987654])]
    r["artifact_types_by_id_wrong_kind"] = [t.name for t in s.get_artifact_types_by_id([trainer_id])]
    r["execution_types_by_id"] = [g.strip(t.name) for t in s.get_execution_types_by_id([trainer_id])]
    r["context_types_by_id"] = [g.strip(t.name) for t in s.get_context_types_by_id([pipeline_id, model_id])]
    r["artifact_types_by_external_ids"] = [
        g.strip(t.name) for t in s.get_artifact_types_by_external_ids([g.t("model-type"), g.t("none")])
    ]
    r["execution_types_by_external_ids"] = [
        g.strip(t.name) for t in s.get_execution_types_by_external_ids([g.t("trainer")])
    ]
    r["context_types_by_external_ids"] = [
        g.strip(t.name) for t in s.get_context_types_by_external_ids([g.t("pipeline")])
    ]
    r["duplicate_type_external_id"] = err(
        lambda: s.put_artifact_type(mlmd.ArtifactType(name=g.t("Other"), external_id=g.t("model-type")))
    )
    r["type_without_name"] = err(lambda: s.put_artifact_type(mlmd.ArtifactType()))
    r["type_with_unknown_property_type"] = err(
        lambda: s.put_artifact_type(mlmd.ArtifactType(name=g.t("Bad"), properties={"p": mlmd.UNKNOWN}))
    )
    return r


def _node_types(g: Group) -> tuple[int, int, int]:
    dataset = mlmd.ArtifactType(name=g.t("Dataset"))
    for key, kind in {"span": INT, "acc": DOUBLE, "split": STRING, "ok": BOOLEAN, "meta": STRUCT, "msg": PROTO}.items():
        dataset.properties[key] = kind
    dataset_id = g.store.put_artifact_type(dataset)
    trainer = mlmd.ExecutionType(name=g.t("Trainer"))
    trainer.properties["steps"] = INT
    trainer_id = g.store.put_execution_type(trainer)
    run = mlmd.ContextType(name=g.t("Run"))
    run.properties["owner"] = STRING
    run_id = g.store.put_context_type(run)
    g.label("type", [dataset_id, trainer_id, run_id], [g.t("Dataset"), g.t("Trainer"), g.t("Run")])
    return dataset_id, trainer_id, run_id


@scenario
def nodes(g: Group) -> dict[str, Any]:
    s = g.store
    r: dict[str, Any] = {}
    dataset_id, trainer_id, run_id = _node_types(g)

    a1 = artifact(dataset_id, g.t("a1"), "/data/a1", external_id=g.t("a1-ext"), state=mlmd.Artifact.LIVE)
    a1.properties["span"].int_value = 7
    a1.properties["acc"].double_value = 0.25
    a1.properties["split"].string_value = "train"
    a1.properties["ok"].bool_value = True
    a1.properties["meta"].CopyFrom(struct({"rows": 10, "cols": ["x", "y"]}))
    a1.properties["msg"].CopyFrom(proto_value())
    a1.custom_properties["note"].string_value = "first"
    a1.custom_properties["drop"].int_value = 1
    a2 = artifact(dataset_id, uri="/data/a2")  # no name
    a3 = artifact(dataset_id, g.t("a3"), "/data/a1", state=mlmd.Artifact.PENDING)
    ids = s.put_artifacts([a1, a2, a3])
    g.label("artifact", ids, ["a1", "a2", "a3"])
    r["put_artifacts_ids_distinct_ascending"] = ids == sorted(set(ids))
    r["artifacts_by_id"] = g.nodes(s.get_artifacts_by_id([ids[2], ids[0], 987654]))
    pairs = s.get_artifacts_and_types_by_artifact_ids([ids[0], ids[1]])
    r["artifacts_and_types"] = {"artifacts": g.nodes(pairs[0]), "types": [g.strip(t.name) for t in pairs[1]]}

    # Updates: masks touch only what they name; no mask replaces the node.
    update = mlmd.Artifact(id=ids[0], type_id=dataset_id, uri="/data/a1-moved")
    update.custom_properties["note"].string_value = "changed"
    r["update_returns_id"] = s.put_artifacts([update], field_mask_paths=["uri", "custom_properties.note"]) == [ids[0]]
    drop = mlmd.Artifact(id=ids[0], type_id=dataset_id)
    s.put_artifacts([drop], field_mask_paths=["custom_properties.drop"])
    r["a1_after_masked_updates"] = g.node(s.get_artifacts_by_id([ids[0]])[0])
    replace = mlmd.Artifact(id=ids[1], type_id=dataset_id, uri="/data/a2-v2", state=mlmd.Artifact.DELETED)
    replace.properties["span"].int_value = 9
    s.put_artifacts([replace])
    r["a2_after_full_update"] = g.node(s.get_artifacts_by_id([ids[1]])[0])
    r["update_to_other_type"] = err(lambda: s.put_artifacts([mlmd.Artifact(id=ids[1], type_id=trainer_id)]))
    r["rename_artifact"] = err(
        lambda: s.put_artifacts([artifact(dataset_id, g.t("renamed"), id=ids[0])], field_mask_paths=["name"])
    )

    r["by_uri"] = g.sorted_names("artifact", [a.id for a in s.get_artifacts_by_uri("/data/a1")])
    r["by_uri_moved"] = g.sorted_names("artifact", [a.id for a in s.get_artifacts_by_uri("/data/a1-moved")])
    r["by_uri_none"] = s.get_artifacts_by_uri("/nowhere")
    r["by_type"] = g.sorted_names("artifact", [a.id for a in s.get_artifacts_by_type(g.t("Dataset"))])
    r["by_type_missing_type"] = s.get_artifacts_by_type(g.t("Nope"))
    r["by_type_and_name"] = g.node(s.get_artifact_by_type_and_name(g.t("Dataset"), g.t("a3")))
    r["by_type_and_name_missing"] = s.get_artifact_by_type_and_name(g.t("Dataset"), g.t("nope"))
    r["by_type_and_name_missing_type"] = s.get_artifact_by_type_and_name(g.t("Nope"), g.t("a3"))
    r["by_external_ids"] = g.sorted_names(
        "artifact", [a.id for a in s.get_artifacts_by_external_ids([g.t("a1-ext"), g.t("zzz")])]
    )

    e1 = mlmd.Execution(type_id=trainer_id, name=g.t("e1"), last_known_state=mlmd.Execution.RUNNING,
                        external_id=g.t("e1-ext"))  # fmt: skip
    e1.properties["steps"].int_value = 100
    e1.custom_properties["gpu"].bool_value = True
    e2 = mlmd.Execution(type_id=trainer_id, last_known_state=mlmd.Execution.NEW)
    eids = s.put_executions([e1, e2])
    g.label("execution", eids, ["e1", "e2"])
    done = mlmd.Execution(id=eids[0], type_id=trainer_id, last_known_state=mlmd.Execution.COMPLETE)
    s.put_executions([done], field_mask_paths=["last_known_state"])
    r["executions_by_id"] = g.nodes(s.get_executions_by_id(eids))
    r["executions_by_type"] = g.sorted_names("execution", [e.id for e in s.get_executions_by_type(g.t("Trainer"))])
    r["execution_by_type_and_name"] = g.node(s.get_execution_by_type_and_name(g.t("Trainer"), g.t("e1")))
    r["execution_by_type_and_name_missing"] = s.get_execution_by_type_and_name(g.t("Trainer"), g.t("e9"))
    r["executions_by_external_ids"] = g.names(
        "execution", [e.id for e in s.get_executions_by_external_ids([g.t("e1-ext")])]
    )

    c1 = mlmd.Context(type_id=run_id, name=g.t("c1"), external_id=g.t("c1-ext"))
    c1.properties["owner"].string_value = "ann"
    c2 = mlmd.Context(type_id=run_id, name=g.t("c2"))
    c2.custom_properties["cfg"].CopyFrom(struct({"lr": 0.1}))
    cids = s.put_contexts([c1, c2])
    g.label("context", cids, ["c1", "c2"])
    owner = mlmd.Context(id=cids[1], type_id=run_id, name=g.t("c2"))
    owner.properties["owner"].string_value = "bob"
    s.put_contexts([owner], field_mask_paths=["properties.owner"])
    r["contexts_by_id"] = g.nodes(s.get_contexts_by_id(cids))
    r["contexts_by_type"] = g.sorted_names("context", [c.id for c in s.get_contexts_by_type(g.t("Run"))])
    r["context_by_type_and_name"] = g.node(s.get_context_by_type_and_name(g.t("Run"), g.t("c1")))
    r["context_by_type_and_name_missing"] = s.get_context_by_type_and_name(g.t("Run"), g.t("c9"))
    r["contexts_by_external_ids"] = g.names("context", [c.id for c in s.get_contexts_by_external_ids([g.t("c1-ext")])])

    r["errors"] = {
        "duplicate_artifact_name": err(lambda: s.put_artifacts([artifact(dataset_id, g.t("a1"))])),
        "duplicate_artifact_external_id": err(
            lambda: s.put_artifacts([artifact(dataset_id, external_id=g.t("a1-ext"))])
        ),
        "duplicate_execution_name": err(
            lambda: s.put_executions([mlmd.Execution(type_id=trainer_id, name=g.t("e1"))])
        ),
        "duplicate_context_name": err(lambda: s.put_contexts([mlmd.Context(type_id=run_id, name=g.t("c1"))])),
        "context_without_name": err(lambda: s.put_contexts([mlmd.Context(type_id=run_id)])),
        "unknown_property": err(lambda: s.put_artifacts([_with_property(dataset_id, "nope", 1)])),
        "property_of_wrong_type": err(lambda: s.put_artifacts([_with_property(dataset_id, "span", "x")])),
        "missing_type_id": err(lambda: s.put_artifacts([mlmd.Artifact(uri="/x")])),
        "unknown_type_id": err(lambda: s.put_artifacts([mlmd.Artifact(type_id=987654)])),
        "update_unknown_artifact": err(lambda: s.put_artifacts([mlmd.Artifact(id=987654, type_id=dataset_id)])),
    }
    r["failed_batch_wrote_nothing"] = g.sorted_names(
        "artifact", [a.id for a in s.get_artifacts_by_type(g.t("Dataset"))]
    )
    return r


def _with_property(type_id: int, key: str, value: Any) -> mlmd.Artifact:
    out = mlmd.Artifact(type_id=type_id)
    if isinstance(value, str):
        out.properties[key].string_value = value
    else:
        out.properties[key].int_value = value
    return out


@scenario
def edges(g: Group) -> dict[str, Any]:
    """Events, attributions, associations, parent contexts and the reads over them."""
    s = g.store
    r: dict[str, Any] = {}
    dataset_id, trainer_id, run_id = _node_types(g)
    aids = s.put_artifacts([artifact(dataset_id, g.t(f"a{i}"), f"/e/a{i}") for i in (1, 2, 3)])
    g.label("artifact", aids, ["a1", "a2", "a3"])
    eids = s.put_executions([mlmd.Execution(type_id=trainer_id, name=g.t(f"e{i}")) for i in (1, 2)])
    g.label("execution", eids, ["e1", "e2"])
    cids = s.put_contexts([mlmd.Context(type_id=run_id, name=g.t(f"c{i}")) for i in (1, 2, 3, 4)])
    g.label("context", cids, ["c1", "c2", "c3", "c4"])
    a1, a2, a3 = aids
    e1, e2 = eids
    c1, c2, c3, c4 = cids

    s.put_events([
        event(mlmd.Event.INPUT, a1, e1, ["examples", 0]),
        event(mlmd.Event.OUTPUT, a2, e1, ["model"]),
        event(mlmd.Event.INPUT, a2, e2, ["model", 1]),
        event(mlmd.Event.OUTPUT, a3, e2),
        event(mlmd.Event.DECLARED_OUTPUT, a3, e2),
    ])  # fmt: skip
    r["events_by_execution_e1"] = g.events(s.get_events_by_execution_ids([e1]))
    r["events_by_execution_both"] = len(s.get_events_by_execution_ids([e1, e2, 987654]))
    r["events_by_artifact_a2_a3"] = g.events(s.get_events_by_artifact_ids([a2, a3]))
    r["events_by_artifact_none"] = s.get_events_by_artifact_ids([987654])
    r["duplicate_event"] = err(lambda: s.put_events([event(mlmd.Event.INPUT, a1, e1)]))
    r["event_unknown_artifact"] = err(lambda: s.put_events([event(mlmd.Event.INPUT, 987654, e1)]))
    r["event_unknown_execution"] = err(lambda: s.put_events([event(mlmd.Event.INPUT, a1, 987654)]))
    r["event_without_type"] = err(lambda: s.put_events([mlmd.Event(artifact_id=a3, execution_id=e1)]))
    r["event_without_artifact"] = err(lambda: s.put_events([mlmd.Event(execution_id=e1, type=mlmd.Event.INPUT)]))

    attributions = [mlmd.Attribution(artifact_id=a, context_id=c1) for a in (a1, a2)]
    attributions.append(mlmd.Attribution(artifact_id=a2, context_id=c2))
    associations = [mlmd.Association(execution_id=e1, context_id=c1), mlmd.Association(execution_id=e2, context_id=c1)]
    s.put_attributions_and_associations(attributions, associations)
    s.put_attributions_and_associations(attributions[:1], associations[:1])  # again: no-op
    r["attribution_unknown_context"] = err(
        lambda: s.put_attributions_and_associations([mlmd.Attribution(artifact_id=a1, context_id=987654)], [])
    )
    r["association_unknown_execution"] = err(
        lambda: s.put_attributions_and_associations([], [mlmd.Association(execution_id=987654, context_id=c1)])
    )
    r["contexts_by_artifact_a2"] = g.sorted_names("context", [c.id for c in s.get_contexts_by_artifact(a2)])
    r["contexts_by_artifact_a3"] = attempt(lambda: s.get_contexts_by_artifact(a3))
    r["contexts_by_execution_e2"] = g.names("context", [c.id for c in s.get_contexts_by_execution(e2)])
    r["artifacts_by_context_c1"] = g.names("artifact", [a.id for a in s.get_artifacts_by_context(c1)])
    r["artifacts_by_context_c1_desc_limit1"] = g.names(
        "artifact",
        [a.id for a in s.get_artifacts_by_context(c1, ListOptions(limit=1, order_by=OrderByField.ID, is_asc=False))],
    )
    r["artifacts_by_context_c1_filtered"] = g.names(
        "artifact", [a.id for a in s.get_artifacts_by_context(c1, ListOptions(filter_query=f"name = '{g.t('a2')}'"))]
    )
    r["executions_by_context_c1_default_newest_first"] = g.names(
        "execution", [e.id for e in s.get_executions_by_context(c1)]
    )
    r["executions_by_context_c1_id_asc"] = g.names(
        "execution", [e.id for e in s.get_executions_by_context(c1, ListOptions(order_by=OrderByField.ID))]
    )
    r["executions_by_context_c2"] = s.get_executions_by_context(c2)

    s.put_parent_contexts([
        mlmd.ParentContext(child_id=c2, parent_id=c1),
        mlmd.ParentContext(child_id=c3, parent_id=c1),
        mlmd.ParentContext(child_id=c4, parent_id=c2),
    ])  # fmt: skip
    r["parents_of_c2"] = g.names("context", [c.id for c in s.get_parent_contexts_by_context(c2)])
    r["parents_of_c1"] = s.get_parent_contexts_by_context(c1)
    r["children_of_c1"] = g.sorted_names("context", [c.id for c in s.get_children_contexts_by_context(c1)])
    r["children_of_c4"] = s.get_children_contexts_by_context(c4)
    r["duplicate_parent"] = err(lambda: s.put_parent_contexts([mlmd.ParentContext(child_id=c2, parent_id=c1)]))
    r["self_parent"] = err(lambda: s.put_parent_contexts([mlmd.ParentContext(child_id=c1, parent_id=c1)]))
    r["cycle"] = err(lambda: s.put_parent_contexts([mlmd.ParentContext(child_id=c1, parent_id=c4)]))
    r["parent_unknown_context"] = err(
        lambda: s.put_parent_contexts([mlmd.ParentContext(child_id=c1, parent_id=987654)])
    )
    r["contexts_filtered_by_parent"] = g.sorted_names(
        "context", [c.id for c in s.get_contexts(ListOptions(filter_query=f"parent_contexts_p.name = '{g.t('c1')}'"))]
    )
    r["contexts_filtered_by_child"] = g.sorted_names(
        "context", [c.id for c in s.get_contexts(ListOptions(filter_query=f"child_contexts_x.name = '{g.t('c4')}'"))]
    )
    return r


@scenario
def put_execution(g: Group) -> dict[str, Any]:
    s = g.store
    r: dict[str, Any] = {}
    dataset_id, trainer_id, run_id = _node_types(g)
    run = mlmd.Context(type_id=run_id, name=g.t("run1"))
    run.properties["owner"].string_value = "ann"
    execution = mlmd.Execution(type_id=trainer_id, name=g.t("e1"), last_known_state=mlmd.Execution.RUNNING)
    examples = artifact(dataset_id, g.t("examples"), "/pe/examples")
    model = artifact(dataset_id, uri="/pe/model", external_id=g.t("model-ext"))
    eid, aids, cids = s.put_execution(
        execution,
        [(examples, event(mlmd.Event.INPUT, path=["examples", 0])), (model, event(mlmd.Event.OUTPUT))],
        [run],
    )
    g.label("execution", [eid], ["e1"])
    g.label("artifact", aids, ["examples", "model"])
    g.label("context", cids, ["run1"])
    r["returned"] = {"artifacts": len(aids), "contexts": len(cids)}
    r["events"] = g.events(s.get_events_by_execution_ids([eid]))
    r["contexts_of_execution"] = g.names("context", [c.id for c in s.get_contexts_by_execution(eid)])
    r["artifacts_in_run"] = g.sorted_names("artifact", [a.id for a in s.get_artifacts_by_context(cids[0])])

    # The same context name again without reuse: ALREADY_EXISTS, and nothing of the call is kept.
    second = mlmd.Execution(type_id=trainer_id, name=g.t("e2"))
    r["context_exists"] = err(lambda: s.put_execution(second, [], [mlmd.Context(type_id=run_id, name=g.t("run1"))]))
    r["nothing_kept"] = s.get_execution_by_type_and_name(g.t("Trainer"), g.t("e2")) is None
    # ... and with reuse_context_if_already_exist the existing context is used.
    eid2, aids2, cids2 = s.put_execution(
        second, [(artifact(dataset_id, external_id=g.t("model-ext")), event(mlmd.Event.INPUT))],
        [mlmd.Context(type_id=run_id, name=g.t("run1"))],
        reuse_context_if_already_exist=True, reuse_artifact_if_already_exist_by_external_id=True,
    )  # fmt: skip
    g.label("execution", [eid2], ["e2"])
    r["reused_context"] = g.names("context", cids2)
    r["reused_artifact_by_external_id"] = g.names("artifact", aids2)
    r["duplicate_external_id_without_reuse"] = err(
        lambda: s.put_execution(
            mlmd.Execution(type_id=trainer_id), [(artifact(dataset_id, external_id=g.t("model-ext")), None)], []
        )
    )
    r["executions_in_run"] = g.sorted_names("execution", [e.id for e in s.get_executions_by_context(cids[0])])

    # Updating: force_reuse_context leaves an existing context as it is.
    changed_run = mlmd.Context(id=cids[0], type_id=run_id, name=g.t("run1"))
    changed_run.properties["owner"].string_value = "bob"
    update = mlmd.Execution(id=eid, type_id=trainer_id, name=g.t("e1"), last_known_state=mlmd.Execution.COMPLETE)
    s.put_execution(update, [], [changed_run], force_reuse_context=True)
    r["context_after_force_reuse"] = g.node(s.get_contexts_by_id([cids[0]])[0])["properties"]
    r["execution_after_update"] = g.node(s.get_executions_by_id([eid])[0])["last_known_state"]
    s.put_execution(update, [], [changed_run])
    r["context_after_plain_update"] = g.node(s.get_contexts_by_id([cids[0]])[0])["properties"]

    # force_update_time bumps last_update_time of an unchanged execution.
    before = s.get_executions_by_id([eid])[0].last_update_time_since_epoch
    time.sleep(0.02)
    s.put_execution(update, [], [], force_update_time=True)
    forced = s.get_executions_by_id([eid])[0].last_update_time_since_epoch
    r["update_time_bumped_with_force"] = forced > before

    # An event whose ids contradict its pair is refused.
    r["event_with_other_execution"] = err(
        lambda: s.put_execution(
            mlmd.Execution(type_id=trainer_id), [(artifact(dataset_id), event(mlmd.Event.INPUT, execution_id=eid))], []
        )
    )
    r["execution_unknown_type"] = err(lambda: s.put_execution(mlmd.Execution(type_id=987654), [], []))
    return r


@scenario
def put_lineage_subgraph(g: Group) -> dict[str, Any]:
    s = g.store
    r: dict[str, Any] = {}
    dataset_id, trainer_id, run_id = _node_types(g)
    executions = [mlmd.Execution(type_id=trainer_id, name=g.t(f"e{i}")) for i in (1, 2)]
    artifacts = [artifact(dataset_id, g.t(f"a{i}"), f"/pls/a{i}", external_id=g.t(f"a{i}-ext")) for i in (1, 2, 3)]
    contexts = [mlmd.Context(type_id=run_id, name=g.t("run1"))]
    edges = [
        (0, 0, event(mlmd.Event.INPUT)),
        (0, 1, event(mlmd.Event.OUTPUT, path=["out", 0])),
        (1, 1, event(mlmd.Event.INPUT)),
        (1, 2, event(mlmd.Event.OUTPUT)),
    ]
    eids, aids, cids = s.put_lineage_subgraph(executions, artifacts, contexts, edges)
    g.label("execution", eids, ["e1", "e2"])
    g.label("artifact", aids, ["a1", "a2", "a3"])
    g.label("context", cids, ["run1"])
    r["counts"] = [len(eids), len(aids), len(cids)]
    r["events"] = g.events(s.get_events_by_execution_ids(eids))
    r["attributed"] = g.sorted_names("artifact", [a.id for a in s.get_artifacts_by_context(cids[0])])
    r["associated"] = g.sorted_names("execution", [e.id for e in s.get_executions_by_context(cids[0])])

    again = [mlmd.Execution(type_id=trainer_id, name=g.t("e3"))]
    reused = [artifact(dataset_id, external_id=g.t("a3-ext"))]
    r["context_exists"] = err(
        lambda: s.put_lineage_subgraph(again, [], [mlmd.Context(type_id=run_id, name=g.t("run1"))], [])
    )
    eids2, aids2, cids2 = s.put_lineage_subgraph(
        again, reused, [mlmd.Context(type_id=run_id, name=g.t("run1"))], [(0, 0, event(mlmd.Event.INPUT))],
        reuse_context_if_already_exist=True, reuse_artifact_if_already_exist_by_external_id=True,
    )  # fmt: skip
    g.label("execution", eids2, ["e3"])
    r["reused"] = {"artifacts": g.names("artifact", aids2), "contexts": g.names("context", cids2)}
    r["events_of_e3"] = g.events(s.get_events_by_execution_ids(eids2))
    r["edge_index_out_of_range"] = err(
        lambda: s.put_lineage_subgraph(
            [mlmd.Execution(type_id=trainer_id)], [artifact(dataset_id)], [], [(0, 5, event(mlmd.Event.INPUT))]
        )
    )
    r["nothing_kept_after_error"] = len(s.get_executions_by_type(g.t("Trainer")))
    return r


@scenario
def listing(g: Group) -> dict[str, Any]:
    """ListOptions: limit, order_by, is_asc and filter_query on the three node kinds."""
    s = g.store
    r: dict[str, Any] = {}
    dataset_id, trainer_id, run_id = _node_types(g)
    model = mlmd.ArtifactType(name=g.t("Model"))
    model.properties["acc"] = DOUBLE
    model_id = s.put_artifact_type(model)
    g.label("type", [model_id], [g.t("Model")])
    aids = []
    for i in range(1, 6):  # one call each, so create times increase
        a = artifact(dataset_id, g.t(f"d{i}"), f"/list/d{i}", state=mlmd.Artifact.LIVE if i % 2 else mlmd.Artifact.PENDING)
        a.properties["span"].int_value = i
        a.properties["split"].string_value = "train" if i <= 3 else "eval"
        a.custom_properties["tag"].string_value = "x" if i in (2, 4) else "y"
        aids += s.put_artifacts([a])
        time.sleep(0.003)
    m = artifact(model_id, g.t("m1"), "/list/m1", external_id=g.t("m1-ext"))
    m.properties["acc"].double_value = 0.9
    aids += s.put_artifacts([m])
    g.label("artifact", aids, ["d1", "d2", "d3", "d4", "d5", "m1"])
    time.sleep(0.003)
    # d4 is updated last, so it is first in LAST_UPDATE_TIME descending order.
    touch = mlmd.Artifact(id=aids[3], type_id=dataset_id)
    touch.custom_properties["touched"].bool_value = True
    s.put_artifacts([touch], field_mask_paths=["custom_properties.touched"])

    eids = s.put_executions([
        mlmd.Execution(type_id=trainer_id, name=g.t("e1"), last_known_state=mlmd.Execution.COMPLETE),
        mlmd.Execution(type_id=trainer_id, name=g.t("e2"), last_known_state=mlmd.Execution.FAILED),
    ])  # fmt: skip
    g.label("execution", eids, ["e1", "e2"])
    cids = s.put_contexts([mlmd.Context(type_id=run_id, name=g.t(f"run{i}")) for i in (1, 2)])
    g.label("context", cids, ["run1", "run2"])
    s.put_attributions_and_associations(
        [mlmd.Attribution(artifact_id=aids[i], context_id=cids[0]) for i in (0, 1)]
        + [mlmd.Attribution(artifact_id=aids[1], context_id=cids[1])],
        [mlmd.Association(execution_id=eids[0], context_id=cids[0])],
    )
    s.put_events([
        event(mlmd.Event.INPUT, aids[0], eids[0]),
        event(mlmd.Event.OUTPUT, aids[5], eids[0]),
        event(mlmd.Event.DECLARED_OUTPUT, aids[4], eids[1]),
    ])  # fmt: skip

    def artifacts(options: ListOptions | None = None) -> Any:
        return attempt(lambda: g.names("artifact", [a.id for a in s.get_artifacts(options)]))

    own = f"type IN ('{g.t('Dataset')}', '{g.t('Model')}')"
    r["all_own"] = sorted(artifacts(ListOptions(filter_query=own)))
    r["limit_2_id_asc"] = artifacts(ListOptions(limit=2, order_by=OrderByField.ID, filter_query=own))
    r["limit_3_id_desc"] = artifacts(ListOptions(limit=3, order_by=OrderByField.ID, is_asc=False, filter_query=own))
    r["create_time_desc"] = artifacts(
        ListOptions(order_by=OrderByField.CREATE_TIME, is_asc=False, filter_query=f"type = '{g.t('Dataset')}'")
    )
    r["update_time_desc_first"] = artifacts(
        ListOptions(limit=1, order_by=OrderByField.UPDATE_TIME, is_asc=False, filter_query=own)
    )
    filters = {
        "property_int": "properties.span.int_value >= 4",
        "property_string": "properties.split.string_value = 'train' AND properties.span.int_value > 1",
        "property_backquoted": "properties.`span`.int_value = 5",
        "property_double": "properties.acc.double_value > 0.5",
        "custom_property": "custom_properties.tag.string_value = 'x'",
        "custom_bool": "custom_properties.touched.bool_value = true",
        "or_not": "NOT (properties.span.int_value < 5) OR properties.span.int_value = 1",
        "state": "state = LIVE",
        "state_in": "state IN (PENDING)",
        "uri_like": "uri LIKE '/list/d%' AND properties.span.int_value <= 2",
        "name_in": "name IN ('{d1}', '{m1}')",
        "external_id": "external_id = '{m1-ext}'",
        "id_in": "id IN ({id_d2}, {id_d3})",
        "type": "type = '{Model}'",
        "create_time": "create_time_since_epoch > 0 AND type = '{Model}'",
        "context": "contexts_a.name = '{run1}'",
        "two_contexts": "contexts_a.name = '{run1}' AND contexts_b.name = '{run2}'",
        "context_type": "contexts_a.type = '{Run}' AND properties.span.int_value >= 2",
        "event_type": "events_0.type = OUTPUT",
        "event_type_in": "events_0.type IN (INPUT, DECLARED_OUTPUT)",
        "event_execution": "events_0.execution_id = {id_e2}",
        "is_null": "external_id IS NULL AND properties.span.int_value = 1",
    }
    names = {k: g.t(k) for k in ("d1", "m1", "m1-ext", "Model", "run1", "run2", "Run")}
    names.update(id_d2=aids[1], id_d3=aids[2], id_e2=eids[1])
    r["filters"] = {
        key: sorted(artifacts(ListOptions(filter_query=f"({query.format(**names)}) AND {own}")))
        for key, query in filters.items()
    }
    r["filter_with_limit_and_order"] = artifacts(
        ListOptions(limit=2, order_by=OrderByField.ID, is_asc=False, filter_query=f"state = LIVE AND {own}")
    )

    def executions(query: str) -> Any:
        full = f"({query}) AND type = '{g.t('Trainer')}'"
        return attempt(lambda: g.names("execution", [e.id for e in s.get_executions(ListOptions(filter_query=full))]))

    r["execution_filters"] = {
        "state": executions("last_known_state = COMPLETE"),
        "state_not_in": executions("last_known_state NOT IN (COMPLETE, CANCELED)"),
        "context": executions(f"contexts_x.name = '{g.t('run1')}'"),
        "event_artifact": executions(f"events_0.artifact_id = {aids[4]}"),
        "name": executions(f"name = '{g.t('e2')}'"),
    }

    def contexts(query: str) -> Any:
        full = f"({query}) AND type = '{g.t('Run')}'"
        return attempt(lambda: g.names("context", [c.id for c in s.get_contexts(ListOptions(filter_query=full))]))

    r["context_filters"] = {
        "name": contexts(f"name = '{g.t('run2')}'"),
        "artifact": contexts(f"artifacts_a.name = '{g.t('d1')}'"),
        "execution_state": contexts("executions_a.last_known_state = COMPLETE"),
        "all_desc": attempt(
            lambda: g.names(
                "context",
                [c.id for c in s.get_contexts(
                    ListOptions(order_by=OrderByField.ID, is_asc=False, filter_query=f"type = '{g.t('Run')}'")
                )],
            )
        ),
    }  # fmt: skip
    r["bad_filters"] = {
        "syntax": err(lambda: s.get_artifacts(ListOptions(filter_query="name = "))),
        "unknown_attribute": err(lambda: s.get_artifacts(ListOptions(filter_query="foo = 1"))),
        "unknown_value_field": err(lambda: s.get_artifacts(ListOptions(filter_query="properties.span.x = 1"))),
        "execution_state_on_artifact": err(lambda: s.get_artifacts(ListOptions(filter_query="last_known_state = NEW"))),
        "limit_zero": err(lambda: s.get_artifacts(ListOptions(limit=-1))),
    }
    r["executions_limit_1"] = len(s.get_executions(ListOptions(limit=1)))
    r["contexts_limit_1"] = len(s.get_contexts(ListOptions(limit=1)))
    return r


@scenario
def lineage(g: Group) -> dict[str, Any]:
    """get_lineage_subgraph on the chain a1 -> e1 -> a2 -> e2 -> a3, with a context on a1 and e1."""
    s = g.store
    r: dict[str, Any] = {}
    dataset_id, trainer_id, run_id = _node_types(g)
    aids = s.put_artifacts([artifact(dataset_id, g.t(f"a{i}"), f"/lin/a{i}") for i in (1, 2, 3)])
    eids = s.put_executions([mlmd.Execution(type_id=trainer_id, name=g.t(f"e{i}")) for i in (1, 2)])
    cids = s.put_contexts([mlmd.Context(type_id=run_id, name=g.t("run1"))])
    g.label("artifact", aids, ["a1", "a2", "a3"])
    g.label("execution", eids, ["e1", "e2"])
    g.label("context", cids, ["run1"])
    s.put_events([
        event(mlmd.Event.INPUT, aids[0], eids[0]),
        event(mlmd.Event.OUTPUT, aids[1], eids[0]),
        event(mlmd.Event.INPUT, aids[1], eids[1]),
        event(mlmd.Event.OUTPUT, aids[2], eids[1]),
    ])  # fmt: skip
    s.put_attributions_and_associations(
        [mlmd.Attribution(artifact_id=aids[0], context_id=cids[0])],
        [mlmd.Association(execution_id=eids[0], context_id=cids[0])],
    )

    def graph(direction: int | None, hops: int | None, start: str = "a2", mask=None, **extra) -> dict[str, Any]:
        options = mlmd.LineageSubgraphQueryOptions(**extra)
        options.starting_artifacts.filter_query = f"name = '{g.t(start)}'"
        if hops is not None:
            options.max_num_hops = hops
        if direction is not None:
            options.direction = direction
        result = s.get_lineage_subgraph(options, mask)
        return {
            "artifacts": [n["label"] for n in g.nodes(result.artifacts)],
            "executions": [n["label"] for n in g.nodes(result.executions)],
            "contexts": [n["label"] for n in g.nodes(result.contexts)],
            "events": len(result.events),
            "attributions": len(result.attributions),
            "associations": len(result.associations),
            "artifact_types": sorted(g.strip(t.name) for t in result.artifact_types),
            "execution_types": sorted(g.strip(t.name) for t in result.execution_types),
            "context_types": sorted(g.strip(t.name) for t in result.context_types),
            "hydrated": all(a.uri for a in result.artifacts) and all(e.name for e in result.executions),
        }

    Q = mlmd.LineageSubgraphQueryOptions
    r["upstream_2"] = graph(Q.UPSTREAM, 2)
    r["downstream_2"] = graph(Q.DOWNSTREAM, 2)
    r["bidirectional_2"] = graph(Q.BIDIRECTIONAL, 2)
    r["unspecified_direction_default_hops"] = graph(None, None)
    r["zero_hops"] = graph(Q.BIDIRECTIONAL, 0)
    r["one_hop_downstream_from_a1"] = graph(Q.DOWNSTREAM, 1, start="a1")
    r["mask_artifacts_and_events"] = graph(Q.BIDIRECTIONAL, 2, mask=["artifacts", "events"])
    r["mask_types_only"] = graph(Q.BIDIRECTIONAL, 2, mask=["artifact_types", "execution_types", "context_types"])
    ending = Q(ending_artifacts=Q.EndingNodes(filter_query=f"name = '{g.t('a2')}'"))
    r["ending_at_a2_excluded"] = graph(Q.DOWNSTREAM, 10, start="a1", ending_artifacts=ending.ending_artifacts)
    ending.ending_artifacts.include_ending_nodes = True
    r["ending_at_a2_included"] = graph(Q.DOWNSTREAM, 10, start="a1", ending_artifacts=ending.ending_artifacts)

    from_execution = Q(max_num_hops=1, direction=Q.DOWNSTREAM)
    from_execution.starting_executions.filter_query = f"name = '{g.t('e2')}'"
    result = s.get_lineage_subgraph(from_execution)
    r["from_execution_e2_downstream_1"] = {
        "artifacts": g.sorted_names("artifact", [a.id for a in result.artifacts]),
        "executions": g.sorted_names("execution", [e.id for e in result.executions]),
    }
    r["no_starting_nodes"] = err(lambda: s.get_lineage_subgraph(Q(max_num_hops=1)))
    bad = Q()
    bad.starting_artifacts.filter_query = "name = "
    r["bad_starting_filter"] = err(lambda: s.get_lineage_subgraph(bad))
    return r


@scenario
def pagination(g: Group) -> dict[str, Any]:
    """250 artifacts: get_artifacts pages by 100 and gets every one, in every order."""
    s = g.store
    dataset_id, _, _ = _node_types(g)
    ids = s.put_artifacts([artifact(dataset_id, g.t(f"p{i:03}"), f"/page/{i}") for i in range(150)])
    ids += s.put_artifacts([artifact(dataset_id, g.t(f"p{i:03}"), f"/page/{i}") for i in range(150, 250)])
    g.label("artifact", ids, [f"p{i:03}" for i in range(250)])
    own = f"type = '{g.t('Dataset')}'"
    everything = s.get_artifacts()
    mine = [a.id for a in everything if a.id in g.labels["artifact"]]
    r: dict[str, Any] = {
        "no_options_distinct_ids": len({a.id for a in everything}) == len(everything),
        "no_options_own": len(mine),
        "no_options_own_in_id_order": mine == sorted(ids),
    }
    for name, options in {
        "default": ListOptions(filter_query=own),
        "id_desc": ListOptions(order_by=OrderByField.ID, is_asc=False, filter_query=own),
        "create_time_asc": ListOptions(order_by=OrderByField.CREATE_TIME, filter_query=own),
        "create_time_desc": ListOptions(order_by=OrderByField.CREATE_TIME, is_asc=False, filter_query=own),
        "update_time_desc": ListOptions(order_by=OrderByField.UPDATE_TIME, is_asc=False, filter_query=own),
        "limit_201": ListOptions(limit=201, order_by=OrderByField.ID, filter_query=own),
    }.items():
        got = [a.id for a in s.get_artifacts(options)]
        r[name] = {"count": len(got), "distinct": len(set(got)), "first": g.name_of("artifact", got[0]),
                   "last": g.name_of("artifact", got[-1])}  # fmt: skip
    by_type = s.get_artifacts_by_type(g.t("Dataset"))
    r["by_type"] = {"count": len(by_type), "distinct": len({a.id for a in by_type})}
    return r


@scenario
def errors_and_misc(g: Group) -> dict[str, Any]:
    """Error classes the client raises for status codes, and the odd corners of the API."""
    s = g.store
    dataset_id, trainer_id, run_id = _node_types(g)
    r: dict[str, Any] = {"pipeline_asset": s.pipeline_asset}
    r["get_artifact_type_missing"] = err(lambda: s.get_artifact_type(g.t("Missing")))
    r["get_artifacts_by_id_empty"] = s.get_artifacts_by_id([])
    r["get_artifacts_by_id_missing"] = s.get_artifacts_by_id([987654])
    r["get_contexts_by_artifact_missing"] = attempt(lambda: s.get_contexts_by_artifact(987654))
    r["get_contexts_by_execution_missing"] = attempt(lambda: s.get_contexts_by_execution(987654))
    r["put_artifact_type_twice_incompatible"] = err(
        lambda: s.put_artifact_type(mlmd.ArtifactType(name=g.t("Dataset"), properties={"span": STRING}))
    )
    r["put_empty_lists"] = [s.put_artifacts([]), s.put_executions([]), s.put_contexts([])]
    r["struct_and_proto_roundtrip"] = _roundtrip(g, dataset_id)
    r["artifact_type_for_execution_type_name"] = err(lambda: s.get_artifact_type(g.t("Trainer")))
    return r


def _roundtrip(g: Group, dataset_id: int) -> Any:
    a = mlmd.Artifact(type_id=dataset_id)
    a.properties["meta"].CopyFrom(struct({"nested": {"list": [1, "two", None, True]}}))
    a.custom_properties["big"].int_value = 2**40
    a.custom_properties["neg"].double_value = -1.5e-9
    a.custom_properties["text"].string_value = "ünïcødé ✓ 'quoted'"
    a.custom_properties["p"].CopyFrom(proto_value())
    [aid] = g.store.put_artifacts([a])
    g.label("artifact", [aid], ["roundtrip"])
    got = g.store.get_artifacts_by_id([aid])[0]
    return {"same_properties": got.properties == a.properties, "same_custom": got.custom_properties == a.custom_properties,
            "node": g.node(got)}  # fmt: skip


@scenario
def update_masks(g: Group) -> dict[str, Any]:
    """Mask paths that name no field ("", typos, another kind's fields) are ignored, as MLMD's own tests send them."""
    s = g.store
    dataset = mlmd.ArtifactType(name=g.t("Masked"))
    dataset.properties["p"] = INT
    type_id = s.put_artifact_type(dataset)
    g.label("type", [type_id], [g.t("Masked")])
    trainer_id = s.put_execution_type(mlmd.ExecutionType(name=g.t("MaskedRun")))
    context_type_id = s.put_context_type(mlmd.ContextType(name=g.t("MaskedCtx")))
    g.label("type", [trainer_id, context_type_id], [g.t("MaskedRun"), g.t("MaskedCtx")])
    r: dict[str, Any] = {}
    cases = {
        "empty_and_invalid_beside_uri": ["", "invalid_field_mask_path", "uri"],
        "only_empty": [""],
        "only_invalid": ["invalid_field_mask_path"],
        "sub_path_of_a_scalar": ["uri.x"],
        "other_kinds_state": ["last_known_state"],
        "output_only_fields": ["id", "type", "type_id", "create_time_since_epoch"],
        "name_of_an_artifact": ["name"],
        "empty_property_key": ["properties.", "custom_properties."],
        "unknown_property_absent": ["properties.unknown"],
        "whole_custom_map": ["custom_properties"],
        "whole_property_map": ["properties"],
        "wrong_case_and_space": ["Uri", " uri"],
        "repeated": ["uri", "uri"],
    }
    for index, (label, paths) in enumerate(cases.items()):
        original = artifact(type_id, g.t(f"m{index}"), "/old", state=mlmd.Artifact.LIVE)
        original.properties["p"].int_value = 1
        original.custom_properties["c"].string_value = "c"
        [artifact_id] = s.put_artifacts([original])
        g.label("artifact", [artifact_id], [label])
        update = artifact(type_id, g.t("renamed"), "/new", id=artifact_id)
        update.properties["p"].int_value = 5
        update.custom_properties["c"].string_value = "C"
        update.custom_properties["new"].int_value = 7
        r[label] = attempt(lambda u=update, p=paths: s.put_artifacts([u], field_mask_paths=p) and None)
        r[label] = r[label] or g.node(s.get_artifacts_by_id([artifact_id])[0])
    bad = artifact(type_id, g.t("bad"), "/old")
    [bad_id] = s.put_artifacts([bad])
    g.label("artifact", [bad_id], ["bad"])
    unknown = artifact(type_id, id=bad_id, uri="/new")
    unknown.properties["unknown"].int_value = 3
    r["unknown_property_present"] = err(lambda: s.put_artifacts([unknown], field_mask_paths=["properties.unknown", "uri"]))
    r["unknown_property_present_unmasked"] = err(lambda: s.put_artifacts([unknown], field_mask_paths=["", "uri"]))
    [execution_id] = s.put_executions([mlmd.Execution(type_id=trainer_id, last_known_state=mlmd.Execution.RUNNING)])
    g.label("execution", [execution_id], ["e"])
    done = mlmd.Execution(id=execution_id, type_id=trainer_id, last_known_state=mlmd.Execution.COMPLETE)
    s.put_executions([done], field_mask_paths=["state", "uri", "invalid"])
    r["execution_after_foreign_paths"] = g.node(s.get_executions_by_id([execution_id])[0])
    s.put_executions([done], field_mask_paths=["", "last_known_state"])
    r["execution_after_valid_path"] = g.node(s.get_executions_by_id([execution_id])[0])
    [context_id] = s.put_contexts([mlmd.Context(type_id=context_type_id, name=g.t("ctx"))])
    g.label("context", [context_id], ["ctx"])
    renamed = mlmd.Context(id=context_id, type_id=context_type_id, name=g.t("ctx2"), external_id=g.t("x"))
    s.put_contexts([renamed], field_mask_paths=["uri", "state", "bogus", "external_id"])
    r["context_after_mixed_paths"] = g.node(s.get_contexts_by_id([context_id])[0])
    return r


@scenario
def large_answers(g: Group) -> dict[str, Any]:
    """Nodes near the node size limit: every list still fits ml-metadata's default 4 MiB receive limit."""
    s = g.store
    type_id = s.put_artifact_type(mlmd.ArtifactType(name=g.t("Blob")))
    context_type_id = s.put_context_type(mlmd.ContextType(name=g.t("Blobs")))
    [context_id] = s.put_contexts([mlmd.Context(type_id=context_type_id, name=g.t("all"))])
    ids = []
    for index in range(6):  # about 5.4 MB in all
        blob = artifact(type_id, g.t(f"b{index}"), f"/blob/{index}")
        blob.custom_properties["data"].string_value = "x" * 900_000
        ids.extend(s.put_artifacts([blob]))
    g.label("artifact", ids, [f"b{index}" for index in range(6)])
    s.put_attributions_and_associations([mlmd.Attribution(context_id=context_id, artifact_id=i) for i in ids], [])
    own = set(ids)
    too_big = artifact(type_id, g.t("huge"))
    too_big.custom_properties["data"].string_value = "x" * 10_000_000
    large = artifact(type_id, g.t("large"))  # over 1 MB, under the 4 MiB an MLMD server takes over gRPC
    large.custom_properties["data"].string_value = "y" * 3_000_000

    def put_and_read_large() -> int:
        [large_id] = s.put_artifacts([large])
        return len(s.get_artifacts_by_id([large_id])[0].custom_properties["data"].string_value)

    def labels(found) -> list[str]:
        return [g.name_of("artifact", a.id) for a in found if a.id in own]

    return {
        "get_artifacts": attempt(lambda: labels(s.get_artifacts())),
        "get_artifacts_newest_first": attempt(
            lambda: labels(s.get_artifacts(ListOptions(order_by=OrderByField.CREATE_TIME, is_asc=False)))
        ),
        "get_artifacts_limit_5": attempt(lambda: len(s.get_artifacts(ListOptions(limit=5)))),
        "by_type": attempt(lambda: labels(s.get_artifacts_by_type(g.t("Blob")))),
        "by_context": attempt(lambda: labels(s.get_artifacts_by_context(context_id))),
        "put_10_mb_artifact": err(lambda: s.put_artifacts([too_big])),
        "put_and_read_3_mb_artifact": attempt(put_and_read_large),
    }


# --- entry point ---------------------------------------------------------------------------------


def grpc_store(target: str, ca: str | None, key: str | None, cert: str | None, timeout: float) -> MetadataStore:
    host, _, port = target.rpartition(":")
    config = mlmd.MetadataStoreClientConfig(host=host, port=int(port), client_timeout_sec=timeout)
    if ca:
        config.ssl_config.custom_ca = Path(ca).read_text()
    if key:
        config.ssl_config.client_key = Path(key).read_text()
    if cert:
        config.ssl_config.server_cert = Path(cert).read_text()  # MLMD's name for the client's chain
    return MetadataStore(config)


def reference_store(directory: str) -> MetadataStore:
    config = mlmd.ConnectionConfig()
    config.sqlite.filename_uri = str(Path(directory) / "mlmd.db")
    config.sqlite.connection_mode = mlmd.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return MetadataStore(config)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grpc", help="HOST:PORT of the server (without it: MLMD in-process only)")
    parser.add_argument("--reference", action="store_true", help="also run against MLMD in-process")
    parser.add_argument("--ca")
    parser.add_argument("--key")
    parser.add_argument("--cert")
    parser.add_argument("--timeout", type=float, default=60.0, help="client_timeout_sec for each call")
    parser.add_argument("--tag", default="", help="extra name prefix, to run a group twice on one database")
    parser.add_argument("groups", nargs="+", choices=sorted(SCENARIOS))
    args = parser.parse_args(argv)
    store = grpc_store(args.grpc, args.ca, args.key, args.cert, args.timeout) if args.grpc else None
    out: dict[str, Any] = {}
    for name in args.groups:
        if store is None:
            with tempfile.TemporaryDirectory() as directory:
                out[name] = SCENARIOS[name](Group(reference_store(directory), args.tag + name))
            continue
        result = SCENARIOS[name](Group(store, args.tag + name))
        if args.reference:
            with tempfile.TemporaryDirectory() as directory:
                reference = SCENARIOS[name](Group(reference_store(directory), args.tag + name))
            out[name] = {"server": result, "reference": reference}
        else:
            out[name] = result
    json.dump(out, sys.stdout, indent=1, sort_keys=True, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
