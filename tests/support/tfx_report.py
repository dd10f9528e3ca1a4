"""What the TFX-environment support scripts report about a store (imported by them; not a test module).

The scripts run under the TFX environment's python from tests/support/, so this module is on
their import path; it imports nothing heavy itself.
"""

from __future__ import annotations

import sys

#: Modules that importing mlineage or an integration must not load.
HEAVY = ("tensorflow", "tensorflow_data_validation", "tensorflow_model_analysis", "tensorflow_transform")


def heavy_modules() -> list[str]:
    """The heavy modules loaded in this process so far."""
    return sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)


def values(node, *, structs: bool = False) -> dict:
    """A node's property values by ``p:name`` / ``c:name``; struct values as dicts with ``structs``, else None."""
    from google.protobuf import json_format

    out = {}
    for group in ("properties", "custom_properties"):
        for name, value in getattr(node, group).items():
            kind = value.WhichOneof("value")
            if kind == "struct_value":
                out[f"{group[0]}:{name}"] = json_format.MessageToDict(value.struct_value) if structs else None
            else:
                out[f"{group[0]}:{name}"] = getattr(value, kind)
    return out


def refusals(calls) -> dict[str, str]:
    """Each ``(label, call)`` run in turn: the INVALID_ARGUMENT message it raised, or ``"no error"``."""
    from mlineage import errors

    failures = {}
    for label, call in calls:
        try:
            call()
            failures[label] = "no error"
        except errors.InvalidArgumentError as exc:
            failures[label] = str(exc)
    return failures


def record_counts(store) -> tuple[int, int]:
    """How many artifacts and events the store holds (a refused call must change neither)."""
    return len(store.get_artifacts()), len(store.get_events_by_execution_ids([e.id for e in store.get_executions()]))


def step_io(store) -> tuple[dict, dict, dict[str, dict[str, list]]]:
    """Type names by id, artifacts by id, and each step's inputs/outputs as [type, uri, event key]."""
    from mlineage.proto import metadata_store_pb2 as pb

    types = {t.id: t.name for t in store.get_artifact_types()}
    executions = {e.id: e for e in store.get_executions()}
    artifacts = {a.id: a for a in store.get_artifacts()}
    steps: dict[str, dict[str, list]] = {}
    for event in store.get_events_by_execution_ids(list(executions)):
        step_name = executions[event.execution_id].custom_properties["step"].string_value
        direction = "inputs" if event.type == pb.Event.INPUT else "outputs"
        artifact = artifacts[event.artifact_id]
        slot = event.path.steps[0].key if event.path.steps else ""
        steps.setdefault(step_name, {"inputs": [], "outputs": []})[direction].append(
            [types[artifact.type_id], artifact.uri, slot])
    return types, artifacts, steps
