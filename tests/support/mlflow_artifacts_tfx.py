"""The TFX side of the TFX-to-MLflow lineage test, with the real ml-metadata client (run in .venvs/mlmd).

    python mlflow_artifacts_tfx.py write_examples --grpc HOST:PORT --uri URI
    python mlflow_artifacts_tfx.py lineage --grpc HOST:PORT --model-uri URI

``write_examples`` records what a TFX ExampleGen component records through MLMD: an
``Examples`` artifact (span, split names) that is the OUTPUT of a ``CsvExampleGen``
execution, in a pipeline context and a pipeline-run context. ``lineage`` asks MLMD's
GetLineageSubgraph for the upstream of the artifact with ``--model-uri`` (the MLflow
run's logged model) and prints every node's type and URI or name. Not a test module.
"""

from __future__ import annotations

import argparse
import json
import sys

from ml_metadata.metadata_store import MetadataStore
from ml_metadata.proto import metadata_store_pb2 as mlmd


def _store(target: str) -> MetadataStore:
    host, port = target.rsplit(":", 1)
    return MetadataStore(mlmd.MetadataStoreClientConfig(host=host, port=int(port)))


def write_examples(store: MetadataStore, uri: str) -> dict:
    examples_type = mlmd.ArtifactType(name="Examples", base_type=mlmd.ArtifactType.DATASET)
    examples_type.properties["span"] = mlmd.INT
    examples_type.properties["split_names"] = mlmd.STRING
    examples_type_id = store.put_artifact_type(examples_type)
    gen_type_id = store.put_execution_type(mlmd.ExecutionType(name="CsvExampleGen"))
    pipeline_type_id = store.put_context_type(mlmd.ContextType(name="pipeline"))
    run_type_id = store.put_context_type(mlmd.ContextType(name="pipeline_run"))
    examples = mlmd.Artifact(type_id=examples_type_id, uri=uri, state=mlmd.Artifact.LIVE)
    examples.properties["span"].int_value = 1
    examples.properties["split_names"].string_value = '["train", "eval"]'
    gen = mlmd.Execution(type_id=gen_type_id, last_known_state=mlmd.Execution.COMPLETE)
    output = mlmd.Event(type=mlmd.Event.OUTPUT)
    output.path.steps.add().key = "examples"
    execution_id, (examples_id,), context_ids = store.put_execution(
        gen, [(examples, output)],
        [mlmd.Context(type_id=pipeline_type_id, name="taxi"), mlmd.Context(type_id=run_type_id, name="taxi-run-1")],
    )
    return {"examples_id": examples_id, "example_gen_id": execution_id, "context_ids": list(context_ids)}


def lineage(store: MetadataStore, model_uri: str) -> dict:
    options = mlmd.LineageSubgraphQueryOptions(max_num_hops=6, direction=mlmd.LineageSubgraphQueryOptions.UPSTREAM)
    options.starting_artifacts.filter_query = f"uri = '{model_uri}'"
    graph = store.get_lineage_subgraph(options)
    artifact_types = {t.id: t.name for t in store.get_artifact_types()}
    execution_types = {t.id: t.name for t in store.get_execution_types()}
    return {
        "artifacts": sorted([artifact_types[a.type_id], a.uri] for a in graph.artifacts),
        "executions": sorted([execution_types[e.type_id], e.name] for e in graph.executions),
        "events": sorted([e.artifact_id, e.execution_id, mlmd.Event.Type.Name(e.type)] for e in graph.events),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["write_examples", "lineage"])
    parser.add_argument("--grpc", required=True)
    parser.add_argument("--uri")
    parser.add_argument("--model-uri")
    args = parser.parse_args()
    store = _store(args.grpc)
    result = write_examples(store, args.uri) if args.command == "write_examples" else lineage(store, args.model_uri)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
