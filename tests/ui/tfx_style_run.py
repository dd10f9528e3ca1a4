"""A TFX-style pipeline run written through the real ml-metadata client (run under the ml-metadata python).

    python tests/ui/tfx_style_run.py HOST:PORT

Records what TFX's orchestrator records for ExampleGen → SchemaGen → Trainer → Pusher: the
`pipeline`, `pipeline_run` and `node` contexts, TFX's artifact types with their declared
properties, executions with their states, and INPUT/OUTPUT events with TFX's keys; then a second run
with no parent link to its pipeline (TFX does not always write one). Prints the ids
as one JSON object, for the browser tests to look up.
"""

from __future__ import annotations

import json
import sys

from ml_metadata.metadata_store import MetadataStore
from ml_metadata.proto import metadata_store_pb2 as mlmd


def main(target: str) -> int:
    host, port = target.rsplit(":", 1)
    config = mlmd.MetadataStoreClientConfig(host=host, port=int(port))
    store = MetadataStore(config)

    def artifact_type(name: str, **properties: int) -> int:
        return store.put_artifact_type(mlmd.ArtifactType(name=name, properties=properties))

    def execution_type(name: str) -> int:
        return store.put_execution_type(mlmd.ExecutionType(name=name, properties={"component_id": mlmd.STRING}))

    def context_type(name: str) -> int:
        return store.put_context_type(mlmd.ContextType(name=name))

    examples_t = artifact_type("Examples", span=mlmd.INT, split_names=mlmd.STRING)
    schema_t = artifact_type("Schema")
    model_t = artifact_type("Model")
    pushed_t = artifact_type("PushedModel")
    pipeline_t, run_t, node_t = context_type("pipeline"), context_type("pipeline_run"), context_type("node")

    pipeline = mlmd.Context(type_id=pipeline_t, name="chicago_taxi")
    run = mlmd.Context(type_id=run_t, name="chicago_taxi.20261201-120000")
    [pipeline_id, run_id] = store.put_contexts([pipeline, run])
    store.put_parent_contexts([mlmd.ParentContext(child_id=run_id, parent_id=pipeline_id)])
    pipeline.id, run.id = pipeline_id, run_id

    def component(name: str, inputs: list[tuple[str, int]], outputs: list[tuple[str, mlmd.Artifact]],
                  state: int = mlmd.Execution.COMPLETE) -> tuple[int, list[int]]:
        node = mlmd.Context(type_id=node_t, name=f"chicago_taxi.{name}")
        [node.id] = store.put_contexts([node])
        execution = mlmd.Execution(type_id=execution_type(name), last_known_state=state)
        execution.properties["component_id"].string_value = name
        pairs = []
        for key, artifact_id in inputs:
            [stored] = store.get_artifacts_by_id([artifact_id])
            event = mlmd.Event(type=mlmd.Event.INPUT)
            event.path.steps.add().key = key
            event.path.steps.add().index = 0
            pairs.append((stored, event))
        for key, artifact in outputs:
            event = mlmd.Event(type=mlmd.Event.OUTPUT)
            event.path.steps.add().key = key
            event.path.steps.add().index = 0
            pairs.append((artifact, event))
        execution_id, artifact_ids, _ = store.put_execution(execution, pairs, [pipeline, run, node])
        return execution_id, artifact_ids[len(inputs):]

    examples = mlmd.Artifact(type_id=examples_t, uri="/tfx/CsvExampleGen/examples/1", state=mlmd.Artifact.LIVE)
    examples.properties["span"].int_value = 1
    examples.properties["split_names"].string_value = '["train", "eval"]'
    example_gen, [examples_id] = component("CsvExampleGen", [], [("examples", examples)])
    schema = mlmd.Artifact(type_id=schema_t, uri="/tfx/SchemaGen/schema/2", state=mlmd.Artifact.LIVE)
    schema_gen, [schema_id] = component("SchemaGen", [("examples", examples_id)], [("schema", schema)])
    model = mlmd.Artifact(type_id=model_t, uri="/tfx/Trainer/model/3", state=mlmd.Artifact.LIVE)
    model.custom_properties["note"].string_value = "first cut"
    trainer, [model_id] = component("Trainer", [("examples", examples_id), ("schema", schema_id)], [("model", model)])
    pushed = mlmd.Artifact(type_id=pushed_t, uri="/serving/taxi/1", state=mlmd.Artifact.LIVE)
    pusher, [pushed_id] = component("Pusher", [("model", model_id)], [("pushed_model", pushed)],
                                    state=mlmd.Execution.FAILED)

    # A second run as TFX often leaves it: its execution associated with the pipeline and the run contexts (and
    # the node context the first run registered), and no parent link from the run to the pipeline.
    [second_id] = store.put_contexts([mlmd.Context(type_id=run_t, name="chicago_taxi.20261202-120000")])
    [node] = store.get_contexts_by_type("node")[:1]
    again = mlmd.Execution(type_id=execution_type("CsvExampleGen"), last_known_state=mlmd.Execution.COMPLETE)
    again.properties["component_id"].string_value = "CsvExampleGen"
    fresh = mlmd.Artifact(type_id=examples_t, uri="/tfx/CsvExampleGen/examples/5", state=mlmd.Artifact.LIVE)
    event = mlmd.Event(type=mlmd.Event.OUTPUT)
    event.path.steps.add().key = "examples"
    event.path.steps.add().index = 0
    store.put_execution(again, [(fresh, event)],
                        [pipeline, mlmd.Context(id=second_id, type_id=run_t, name="chicago_taxi.20261202-120000"), node])
    print(json.dumps({
        "pipeline": pipeline_id, "run": run_id, "unlinked_run": second_id,
        "examples": examples_id, "schema": schema_id, "model": model_id, "pushed": pushed_id,
        "example_gen": example_gen, "schema_gen": schema_gen, "trainer": trainer, "pusher": pusher,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
