"""Two TFX-style pipeline runs written through the real ml-metadata client (run under the ml-metadata venv).

    python tests/reports/tfx_style_runs.py --grpc HOST:PORT

As TFX's launcher records a run: contexts ``pipeline`` (taxi_tfx), ``pipeline_run``
(its run id) and ``node`` (``taxi_tfx.<node id>``), executions of TFX's component
types with their exec properties as declared properties, each published with
``put_execution`` (inputs and outputs with the output key in the event path) into
the three contexts, and no parent-context links. run-2 reads examples span 4
instead of 3 and trains longer; its ModelEvaluation (written as mlineage's TFMA
integration writes one) has a lower AUC. Prints {"runs": [...]} as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys

from ml_metadata.metadata_store import MetadataStore
from ml_metadata.proto import metadata_store_pb2 as mlmd

PIPELINE = "taxi_tfx"
COMPONENTS = {
    "CsvExampleGen": ("tfx.components.example_gen.csv_example_gen.component.CsvExampleGen",
                      {"input_base": mlmd.STRING, "output_config": mlmd.STRING}),
    "Trainer": ("tfx.components.trainer.component.Trainer",
                {"train_args": mlmd.STRING, "eval_args": mlmd.STRING, "module_file": mlmd.STRING}),
    "Evaluator": ("tfx.components.evaluator.component.Evaluator", {"eval_config": mlmd.STRING}),
}
RUNS = {
    "run-1": {"span": 3, "num_steps": 100, "auc": 0.81},
    "run-2": {"span": 4, "num_steps": 200, "auc": 0.79},
}


def _context(store: MetadataStore, type_id: int, name: str) -> mlmd.Context:
    found = store.get_context_by_type_and_name({v: k for k, v in TYPE_IDS.items()}[type_id], name)
    return found if found is not None else mlmd.Context(type_id=type_id, name=name)


TYPE_IDS: dict[str, int] = {}


def _event(kind: int, key: str) -> mlmd.Event:
    event = mlmd.Event(type=kind)
    event.path.steps.add().key = key
    event.path.steps.add().index = 0
    return event


def _publish(store, node: str, run_id: str, properties: dict, inputs: list, outputs: list) -> int:
    type_name, _declared = COMPONENTS[node]
    execution = mlmd.Execution(type_id=TYPE_IDS[type_name], last_known_state=mlmd.Execution.COMPLETE)
    for name, value in properties.items():
        execution.properties[name].string_value = value
    execution.custom_properties["pipeline_name"].string_value = PIPELINE
    contexts = [_context(store, TYPE_IDS["pipeline"], PIPELINE), _context(store, TYPE_IDS["pipeline_run"], run_id),
                _context(store, TYPE_IDS["node"], f"{PIPELINE}.{node}")]
    pairs = [(artifact, _event(mlmd.Event.INPUT, key)) for key, artifact in inputs]
    pairs += [(artifact, _event(mlmd.Event.OUTPUT, key)) for key, artifact in outputs]
    execution_id, artifact_ids, _ = store.put_execution(execution, pairs, contexts,
                                                        reuse_context_if_already_exist=True)
    for (_, artifact), artifact_id in zip(inputs + outputs, artifact_ids, strict=True):
        artifact.id = artifact_id
    return execution_id


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grpc", required=True)
    args = parser.parse_args(argv)
    host, _, port = args.grpc.rpartition(":")
    store = MetadataStore(mlmd.MetadataStoreClientConfig(host=host, port=int(port)))
    for name in ("pipeline", "pipeline_run", "node"):
        TYPE_IDS[name] = store.put_context_type(mlmd.ContextType(name=name))
    for type_name, declared in COMPONENTS.values():
        TYPE_IDS[type_name] = store.put_execution_type(mlmd.ExecutionType(name=type_name, properties=declared))
    TYPE_IDS["Examples"] = store.put_artifact_type(mlmd.ArtifactType(
        name="Examples", properties={"span": mlmd.INT, "version": mlmd.INT, "split_names": mlmd.STRING},
        base_type=mlmd.ArtifactType.DATASET))
    TYPE_IDS["Model"] = store.put_artifact_type(mlmd.ArtifactType(name="Model", base_type=mlmd.ArtifactType.MODEL))
    TYPE_IDS["ModelEvaluation"] = store.put_artifact_type(mlmd.ArtifactType(name="ModelEvaluation"))
    root = "/pipelines/taxi_tfx"
    for run_id, spec in RUNS.items():
        examples = mlmd.Artifact(type_id=TYPE_IDS["Examples"], uri=f"{root}/CsvExampleGen/examples/{run_id}",
                                 state=mlmd.Artifact.LIVE)
        examples.properties["span"].int_value = spec["span"]
        examples.properties["version"].int_value = 0
        examples.properties["split_names"].string_value = '["train", "eval"]'
        examples.custom_properties["tfx_version"].string_value = "1.16.0"
        _publish(store, "CsvExampleGen", run_id, {"input_base": f"/data/taxi/span-{spec['span']}"}, [],
                 [("examples", examples)])
        model = mlmd.Artifact(type_id=TYPE_IDS["Model"], uri=f"{root}/Trainer/model/{run_id}",
                              state=mlmd.Artifact.LIVE)
        model.custom_properties["tfx_version"].string_value = "1.16.0"
        _publish(store, "Trainer", run_id, {"train_args": json.dumps({"num_steps": spec["num_steps"]}),
                                            "eval_args": json.dumps({"num_steps": 50}),
                                            "module_file": "taxi_utils.py"},
                 [("examples", examples)], [("model", model)])
        evaluation = mlmd.Artifact(type_id=TYPE_IDS["ModelEvaluation"], uri=f"{root}/Evaluator/evaluation/{run_id}",
                                   state=mlmd.Artifact.LIVE)
        evaluation.custom_properties["auc"].double_value = spec["auc"]
        evaluation.custom_properties["example_count"].int_value = 5000
        evaluation.custom_properties["slice.Overall.auc"].double_value = spec["auc"]
        _publish(store, "Evaluator", run_id, {"eval_config": "{}"}, [("examples", examples), ("model", model)],
                 [("evaluation", evaluation)])
    print(json.dumps({"runs": list(RUNS)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
