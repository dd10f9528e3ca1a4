"""TFX's standard artifact types (names, declared properties, base types), declared in a store before a step logs them.

The client's record applier makes a type it has not seen without declared
properties, so ``span`` would land among the custom properties. The
integrations call ``declare_artifact_type(step, "ExampleStatistics")`` first:
the type is put with TFX's declared properties (``span`` INT,
``split_names`` STRING, …) and base type, as TFX's own components register
it (``tfx/types/standard_artifacts.py``), so a graph recorded through these
integrations reads the same as one TFX wrote through MLMD's API. A store
that cannot be reached (a journaled step whose server is down) is not an
error: the records still go to the journal, and the properties then arrive
as custom properties.

Executions and contexts are named as TFX's orchestrator names them too:
an execution's type is its component's class path (``BaseNode.type``:
``tfx.components.statistics_gen.component.StatisticsGen``), and each step
belongs to a ``node`` context named ``<pipeline>.<node id>`` beside the
``pipeline`` and ``pipeline_run`` ones. ``tfx_step(run, "StatisticsGen")``
opens a step that way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from mlineage import errors
from mlineage.proto import metadata_store_pb2 as pb

log = logging.getLogger("mlineage.integrations")

_INT: int = pb.INT
_STRING: int = pb.STRING
_SPAN_SPLITS: dict[str, int] = {"span": _INT, "split_names": _STRING}

# TYPE_NAME -> (declared properties, base type name or None).
TFX_ARTIFACT_TYPES: dict[str, tuple[dict[str, int], str | None]] = {
    "Examples": ({"span": _INT, "version": _INT, "split_names": _STRING}, "DATASET"),
    "ExampleStatistics": (_SPAN_SPLITS, "STATISTICS"),
    "ExampleAnomalies": (_SPAN_SPLITS, None),
    "Schema": ({}, None),
    "TransformGraph": ({}, None),
    "TransformCache": ({}, None),
    "Model": ({}, "MODEL"),
    "ModelRun": ({}, None),
    "ModelEvaluation": ({}, None),
    "ModelBlessing": ({}, None),
    "InfraBlessing": ({}, None),
    "PushedModel": ({}, "MODEL"),
}


#: TFX's standard components by class name -> their execution type (the component's class path).
TFX_COMPONENT_TYPES: dict[str, str] = {
    "CsvExampleGen": "tfx.components.example_gen.csv_example_gen.component.CsvExampleGen",
    "ImportExampleGen": "tfx.components.example_gen.import_example_gen.component.ImportExampleGen",
    "StatisticsGen": "tfx.components.statistics_gen.component.StatisticsGen",
    "SchemaGen": "tfx.components.schema_gen.component.SchemaGen",
    "ImportSchemaGen": "tfx.components.schema_gen.import_schema_gen.component.ImportSchemaGen",
    "ExampleValidator": "tfx.components.example_validator.component.ExampleValidator",
    "Transform": "tfx.components.transform.component.Transform",
    "Trainer": "tfx.components.trainer.component.Trainer",
    "Tuner": "tfx.components.tuner.component.Tuner",
    "Evaluator": "tfx.components.evaluator.component.Evaluator",
    "InfraValidator": "tfx.components.infra_validator.component.InfraValidator",
    "Pusher": "tfx.components.pusher.component.Pusher",
    "BulkInferrer": "tfx.components.bulk_inferrer.component.BulkInferrer",
}
#: TFX's context type for one node of a pipeline (``tfx/dsl/compiler/constants.py``).
NODE_CONTEXT_TYPE = "node"


def tfx_execution_type(node_id: str, component: str | None = None) -> str:
    """The execution type TFX gives ``node_id``: its ``component``'s class path (a standard component's class
    name, e.g. ``Pusher`` for a node ``TritonPusher``, or a class path), else the node id's own when it names a
    standard component, else the node id itself."""
    name = component or node_id
    return TFX_COMPONENT_TYPES.get(name, name)


def tfx_step(run: Any, node_id: str, *, component: str | None = None, **options: Any) -> Any:
    """``run.step(node_id, ...)`` as TFX records a node: the component's class path as the execution type, and
    the step in the ``node`` context ``<pipeline>.<node_id>`` beside the pipeline's and the run's.

        with tfx_step(run, "StatisticsGen") as step:
            record_statistics(step, stats_dir, examples=examples)
    """
    node = run.add_context(NODE_CONTEXT_TYPE, f"{run.pipeline}.{node_id}")
    contexts = [*options.pop("contexts", ()), node]
    return run.step(node_id, type=options.pop("type", None) or tfx_execution_type(node_id, component),
                    contexts=contexts, **options)


def encode_split_names(names: Sequence[str]) -> str:
    """TFX's ``split_names`` value: a JSON list string, e.g. ``'["train", "eval"]'``."""
    return json.dumps(list(names))


def artifact_type(type_name: str) -> pb.ArtifactType:
    """The MLMD ArtifactType TFX registers for ``type_name``."""
    declared, base = TFX_ARTIFACT_TYPES[type_name]
    message = pb.ArtifactType(name=type_name)
    for name, data_type in declared.items():
        message.properties[name] = data_type
    if base is not None:
        message.base_type = pb.ArtifactType.SystemDefinedBaseType.Value(base)
    return message


def declare_artifact_type(step: Any, type_name: str) -> bool:
    """Put TFX's ``type_name`` into the step's store (adding missing declared properties); False if it could
    not be reached or refused the type (the step's records are written anyway)."""
    store = getattr(getattr(step.run, "sink", None), "store", None)
    if store is None:
        return False
    message = artifact_type(type_name)
    try:
        try:
            store.put_artifact_type(message, can_add_fields=True, can_omit_fields=True)
        except errors.MlineageError:
            # A stored type of that name with another base type: add the properties, keep its base type.
            message.ClearField("base_type")
            store.put_artifact_type(message, can_add_fields=True, can_omit_fields=True)
    except errors.MlineageError as exc:
        log.warning("mlineage: could not declare the artifact type %s (%s); its properties are custom ones",
                    type_name, exc)
        return False
    return True


__all__ = [
    "NODE_CONTEXT_TYPE", "TFX_ARTIFACT_TYPES", "TFX_COMPONENT_TYPES", "artifact_type", "declare_artifact_type",
    "encode_split_names", "tfx_execution_type", "tfx_step",
]
