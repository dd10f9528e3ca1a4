"""Runs the end-to-end example once (integrations) and says what TFX's components would record for it (TFX env).

    python tests/support/tfx_style_pipeline.py WORKDIR URL RUN_ID

Not a test module. Under the TFX environment's python it runs examples/pipeline_end_to_end.py at URL
(the pipeline recorded through mlineage.integrations), then writes WORKDIR/tfx_spec.json: the same
pipeline as TFX's orchestrator and standard components would record it through MLMD's API, node by
node, in TFX's terms: each node's component class path, the artifacts it reads and writes under
TFX's input and output keys, and the properties TFX's executors set on each output, computed here
the way those executors compute them, with the producers' own readers (TFDV's anomalies loader,
TFMA's validation result). tests/support/tfx_mlmd_recorder.py then writes that spec with the real
ml-metadata client. The last line of stdout is the example's JSON summary.
"""

from __future__ import annotations

import io
import json
import os
import runpy
import sys
from contextlib import redirect_stdout
from pathlib import Path

PIPELINE = "taxi_end_to_end"
SPLITS = ["train", "eval"]  # ExampleGen's default output splits, in its order
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pipeline_end_to_end.py"

# TFX's standard artifact types used here (tfx/types/standard_artifacts.py): declared properties, base type.
ARTIFACT_TYPES = {
    "Examples": ({"span": "INT", "version": "INT", "split_names": "STRING"}, "DATASET"),
    "ExampleStatistics": ({"span": "INT", "split_names": "STRING"}, "STATISTICS"),
    "ExampleAnomalies": ({"span": "INT", "split_names": "STRING"}, None),
    "Schema": ({}, None),
    "TransformGraph": ({}, None),
    "Model": ({}, "MODEL"),
    "ModelRun": ({}, None),
    "ModelEvaluation": ({}, None),
    "ModelBlessing": ({}, None),
    "PushedModel": ({}, "MODEL"),
}
COMPONENTS = {
    "CsvExampleGen": "tfx.components.example_gen.csv_example_gen.component.CsvExampleGen",
    "StatisticsGen": "tfx.components.statistics_gen.component.StatisticsGen",
    "SchemaGen": "tfx.components.schema_gen.component.SchemaGen",
    "ExampleValidator": "tfx.components.example_validator.component.ExampleValidator",
    "Transform": "tfx.components.transform.component.Transform",
    "Trainer": "tfx.components.trainer.component.Trainer",
    "Evaluator": "tfx.components.evaluator.component.Evaluator",
    "Pusher": "tfx.components.pusher.component.Pusher",
}


def _int(value: int) -> dict:
    return {"int": int(value)}


def _str(value: str) -> dict:
    return {"string": str(value)}


def _artifact(type_name: str, uri: Path | str, properties: dict | None = None, custom: dict | None = None) -> dict:
    return {"type": type_name, "uri": str(uri), "properties": properties or {}, "custom_properties": custom or {}}


def _anomalies_blessed(anomalies_dir: Path) -> dict:
    """ExampleValidator's ``blessed``: per split, 0 when anomaly_info is non-empty or dataset_anomaly_info set."""
    from tensorflow_data_validation.utils import anomalies_util

    blessed = {}
    for split in SPLITS:
        anomalies = anomalies_util.load_anomalies_binary(str(anomalies_dir / f"Split-{split}" / "SchemaDiff.pb"))
        blessed[split] = 0 if (anomalies.anomaly_info or anomalies.HasField("dataset_anomaly_info")) else 1
    return blessed


def _pushed(base: Path, workdir: Path, node: str, execution_index: int) -> dict:
    """Pusher's output: a PushedModel at its own output dir, pushed to ``<base>/<version>``."""
    version = max((p.name for p in base.iterdir() if p.is_dir() and p.name.isdigit()), key=int)
    return {"pushed_model": [_artifact("PushedModel", workdir / node / "pushed_model" / str(execution_index), custom={
        "pushed": _int(1), "pushed_destination": _str(str(base / version)), "pushed_version": _str(version)})]}


def tfx_spec(workdir: Path) -> dict:
    """The example's pipeline as TFX's components record it: nodes in run order, inputs as NODE.KEY.INDEX."""
    import tensorflow_model_analysis as tfma

    encoded_splits = json.dumps(SPLITS)
    examples = workdir / "CsvExampleGen" / "examples" / "1"
    anomalies = workdir / "ExampleValidator" / "anomalies" / "4"
    evaluation = workdir / "Evaluator" / "evaluation" / "7"
    model = workdir / "Trainer" / "model" / "6"
    blessed = tfma.load_validation_result(str(evaluation)).validation_ok
    pushers = [("Pusher", workdir / "serving" / "taxi", 8), ("TritonPusher", workdir / "triton_repository" / "taxi", 9)]
    nodes = [
        {"id": "CsvExampleGen", "inputs": {}, "outputs": {"examples": [_artifact(
            "Examples", examples, {"span": _int(1), "split_names": _str(encoded_splits)})]}},
        # StatisticsGen copies the examples' span and their split names (less exclude_splits).
        {"id": "StatisticsGen", "inputs": {"examples": ["CsvExampleGen.examples.0"]}, "outputs": {"statistics": [
            _artifact("ExampleStatistics", workdir / "StatisticsGen" / "statistics" / "2",
                      {"span": _int(1), "split_names": _str(encoded_splits)})]}},
        {"id": "SchemaGen", "inputs": {"statistics": ["StatisticsGen.statistics.0"]},
         "outputs": {"schema": [_artifact("Schema", workdir / "SchemaGen" / "schema" / "3")]}},
        # ExampleValidator: the statistics' split names and, per split, blessed (a JSON-valued custom property).
        {"id": "ExampleValidator",
         "inputs": {"statistics": ["StatisticsGen.statistics.0"], "schema": ["SchemaGen.schema.0"]},
         "outputs": {"anomalies": [_artifact("ExampleAnomalies", anomalies, {"split_names": _str(encoded_splits)},
                                             {"blessed": {"struct": _anomalies_blessed(anomalies)}})]}},
        # Transform (disable_statistics=True): the graph, and the transformed examples with the transform splits.
        {"id": "Transform", "inputs": {"examples": ["CsvExampleGen.examples.0"], "schema": ["SchemaGen.schema.0"]},
         "outputs": {"transform_graph": [_artifact("TransformGraph", workdir / "Transform" / "transform_graph" / "5")],
                     "transformed_examples": [_artifact("Examples", workdir / "Transform" / "transformed_examples" / "5",
                                                        {"split_names": _str(encoded_splits)})]}},
        {"id": "Trainer",
         "inputs": {"examples": ["Transform.transformed_examples.0"], "transform_graph": ["Transform.transform_graph.0"]},
         "outputs": {"model": [_artifact("Model", model)],
                     "model_run": [_artifact("ModelRun", workdir / "Trainer" / "model_run" / "6")]}},
        # Evaluator with a threshold: the blessing says blessed and which model it judged.
        {"id": "Evaluator", "inputs": {"examples": ["CsvExampleGen.examples.0"], "model": ["Trainer.model.0"]},
         "outputs": {"evaluation": [_artifact("ModelEvaluation", evaluation)],
                     "blessing": [_artifact("ModelBlessing", workdir / "Evaluator" / "blessing" / "7", custom={
                         "blessed": _int(1 if blessed else 0), "current_model": _str(str(model)),
                         "current_model_id": {"id_of": "Trainer.model.0"}})]}},
    ]  # fmt: skip
    for node, base, index in pushers:  # two Pusher nodes (the second one Pusher(...).with_id("TritonPusher"))
        nodes.append({"id": node, "component": "Pusher",
                      "inputs": {"model": ["Trainer.model.0"], "model_blessing": ["Evaluator.blessing.0"]},
                      "outputs": _pushed(base, workdir, node, index)})
    for node in nodes:
        node["type"] = COMPONENTS[node.pop("component", node["id"])]
    return {"pipeline": PIPELINE, "artifact_types": {name: {"properties": props, "base_type": base}
                                                    for name, (props, base) in ARTIFACT_TYPES.items()},
            "nodes": nodes}


def main() -> None:
    workdir, url, run_id = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    example = runpy.run_path(str(EXAMPLE))
    printed = io.StringIO()
    with redirect_stdout(printed):
        summary = example["main"](["--url", url, "--workdir", str(workdir), "--run-id", run_id])
    spec = tfx_spec(workdir)
    spec["run_id"] = run_id
    (workdir / "tfx_spec.json").write_text(json.dumps(spec, indent=1))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
