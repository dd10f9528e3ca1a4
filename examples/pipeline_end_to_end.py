"""A small real pipeline (TFDV -> TF.Transform -> Keras -> TFMA -> TF Serving and Triton push) recorded in mlineage.

Runs in the TFX environment (TensorFlow, TFDV, TF.Transform, TFMA, Keras) on a few hundred rows it
generates, records every step through mlineage's integrations at URL under one run, and prints the
pushed model's upstream lineage:

    python examples/pipeline_end_to_end.py --url grpc://localhost:8080 [--workdir DIR] [--run-id R] [--shift]

``--shift`` changes the data (more missing fares, dearer fares, a new company) for a second run to
compare with the first. The last line of output is a JSON summary (ids, the run's numbers).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

PIPELINE = "taxi_end_to_end"
AUC_LOWER_BOUND = 0.5

TRITON_CONFIG = """name: "taxi"
platform: "tensorflow_savedmodel"
max_batch_size: 8
instance_group [
  {
    count: 1
    kind: KIND_GPU
    gpus: [ 0 ]
  }
]
dynamic_batching {
  max_queue_delay_microseconds: 100
}
"""


def make_data(shift: bool, n: int = 300, seed: int = 5) -> Any:
    """Rows of taxi trips with a binary ``tipped`` label; ``shift`` moves the fares, adds gaps and a company."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed + (1 if shift else 0))
    companies = ["alpha", "beta", "gamma"] + (["delta"] if shift else [])
    fare = rng.uniform(8, 60, n) if shift else rng.uniform(2, 40, n)
    trips = rng.integers(1, 6, n)
    company = rng.choice(companies, n)
    score = (fare - fare.mean()) / fare.std() + 0.4 * (company == "alpha") + rng.normal(0, 0.6, n)
    missing = rng.random(n) < (0.3 if shift else 0.05)
    return pd.DataFrame({
        "fare": np.where(missing, np.nan, fare),
        "trips": trips.astype("int64"),
        "company": company,
        "tipped": (score > 0).astype("int64"),
    })


def write_examples(frame: Any, directory: Path) -> dict[str, Any]:
    """ExampleGen's layout: ``Split-train`` and ``Split-eval`` CSV files; the split frames."""
    n_train = int(len(frame) * 0.75)
    splits = {"train": frame.iloc[:n_train].reset_index(drop=True),
              "eval": frame.iloc[n_train:].reset_index(drop=True)}
    for split, part in splits.items():
        (directory / f"Split-{split}").mkdir(parents=True)
        part.to_csv(directory / f"Split-{split}" / "data.csv", index=False)
    return splits


def transform(splits: dict[str, Any], output_dir: Path, examples_dir: Path, temp_dir: Path) -> dict[str, list]:
    """A real TF.Transform run (z-score, vocabulary) on the train split, applied to both splits."""
    import tensorflow as tf
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

    raw_spec = {"fare": tf.io.FixedLenFeature([], tf.float32), "trips": tf.io.FixedLenFeature([], tf.int64),
                "company": tf.io.FixedLenFeature([], tf.string), "tipped": tf.io.FixedLenFeature([], tf.int64)}
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(raw_spec))

    def rows(part: Any) -> list[dict[str, Any]]:
        fare = part["fare"].fillna(part["fare"].mean() if part["fare"].notna().any() else 0.0)
        return [{"fare": float(f), "trips": int(t), "company": str(c).encode(), "tipped": int(y)}
                for f, t, c, y in zip(fare, part["trips"], part["company"], part["tipped"], strict=True)]

    def preprocessing_fn(inputs: dict[str, Any]) -> dict[str, Any]:
        return {
            "fare_z": tft.scale_to_z_score(inputs["fare"]),
            "trips": tf.cast(inputs["trips"], tf.float32),
            "company_id": tft.compute_and_apply_vocabulary(inputs["company"], vocab_filename="company_vocab"),
            "tipped": inputs["tipped"],
        }

    out: dict[str, list] = {}
    with tft_beam.Context(temp_dir=str(temp_dir)):
        (train, transformed_metadata), transform_fn = (
            (rows(splits["train"]), metadata) | tft_beam.AnalyzeAndTransformDataset(preprocessing_fn))
        out["train"] = train
        out["eval"], _ = ((rows(splits["eval"]), metadata), transform_fn) | tft_beam.TransformDataset()
        _ = transform_fn | tft_beam.WriteTransformFn(str(output_dir))
    coder = tft.coders.ExampleProtoCoder(transformed_metadata.schema)
    for split, part in out.items():
        (examples_dir / f"Split-{split}").mkdir(parents=True)
        path = examples_dir / f"Split-{split}" / "transformed_examples-00000-of-00001.gz"
        with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
            for row in part:
                writer.write(coder.encode(row))
    return out


def features(rows: list[dict[str, Any]], vocab_size: int) -> tuple[Any, Any]:
    import numpy as np

    x = np.array([[r["fare_z"], r["trips"] / 5.0, r["company_id"] / max(vocab_size, 1)] for r in rows], "float32")
    y = np.array([r["tipped"] for r in rows], "float32")
    return x, y


def upstream_lineage(store: Any, artifact_id: int) -> tuple[dict[int, str], dict[int, str], list[tuple]]:
    """The pushed model's upstream lineage: artifacts {id: type}, executions {id: node id}, edges (a, e, INPUT|OUTPUT).

    mlineage.lineage.lineage, on any store URL (through a server, the server runs the walk).
    """
    from mlineage.lineage import lineage
    from mlineage.proto import metadata_store_pb2 as pb

    graph = lineage(store, artifact_ids=[artifact_id], direction="upstream", max_hops=40).graph
    artifact_types = {t.id: t.name for t in graph.artifact_types}
    artifacts = {a.id: artifact_types[a.type_id] for a in graph.artifacts}
    # An execution's type is its TFX component's class path; the tree names the node (the step).
    executions = {e.id: e.custom_properties["step"].string_value for e in graph.executions}
    edges = sorted({(e.artifact_id, e.execution_id, pb.Event.Type.Name(e.type)) for e in graph.events
                    if e.artifact_id in artifacts and e.execution_id in executions})
    return artifacts, executions, edges


def print_tree(artifact_id: int, artifacts: dict[int, str], executions: dict[int, str], edges: list[tuple],
               uris: dict[int, str]) -> None:
    """The lineage as an indented tree, from the pushed model back to the raw examples."""
    made_by = {a: e for a, e, kind in edges if kind in ("OUTPUT", "DECLARED_OUTPUT")}
    read_by: dict[int, list[int]] = {}
    for a, e, kind in edges:
        if kind in ("INPUT", "DECLARED_INPUT"):
            read_by.setdefault(e, []).append(a)

    shown: set[int] = set()

    def show(node: int, depth: int) -> None:
        if node in shown:
            print(f"{'  ' * depth}{artifacts[node]} #{node} (above)")
            return
        shown.add(node)
        print(f"{'  ' * depth}{artifacts[node]} #{node} {uris.get(node, '')}")
        execution = made_by.get(node)
        if execution is None:
            return
        print(f"{'  ' * (depth + 1)}<- {executions[execution]} #{execution}")
        for upstream in sorted(read_by.get(execution, [])):
            show(upstream, depth + 2)

    show(artifact_id, 0)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="store URL: grpc://host:port, sqlite:///…, postgresql://…")
    parser.add_argument("--workdir", help="where the pipeline writes its outputs (default: a new temporary one)")
    parser.add_argument("--run-id", default=None, help="the run's id (default: one from the clock)")
    parser.add_argument("--shift", action="store_true", help="change the data's distribution")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import keras
    import tensorflow_data_validation as tfdv
    import tensorflow_model_analysis as tfma
    import tensorflow_transform as tft

    import mlineage
    from mlineage.integrations import serving
    from mlineage.integrations import tfdv as record_tfdv
    from mlineage.integrations import tfma as record_tfma
    from mlineage.integrations import tft as record_tft
    from mlineage.integrations.tfx_types import declare_artifact_type, tfx_step
    from mlineage.integrations.training import MlineageCallback

    started = time.monotonic()
    root = Path(args.workdir or tempfile.mkdtemp(prefix="mlineage-e2e-")).resolve()
    root.mkdir(parents=True, exist_ok=True)
    run_id = args.run_id or time.strftime("e2e-%Y%m%d-%H%M%S")
    frame = make_data(args.shift)

    with mlineage.run(PIPELINE, run_id=run_id, url=args.url) as run:
        with tfx_step(run, "CsvExampleGen") as step:
            declare_artifact_type(step, "Examples")
            examples_dir = root / "CsvExampleGen" / "examples" / "1"
            splits = write_examples(frame, examples_dir)
            examples = step.output("Examples", uri=str(examples_dir), span=1, split_names='["train", "eval"]',
                                   key="examples")

        with tfx_step(run, "StatisticsGen") as step:
            stats_dir = root / "StatisticsGen" / "statistics" / "2"
            stats = {split: tfdv.generate_statistics_from_dataframe(part) for split, part in splits.items()}
            for split, value in stats.items():
                (stats_dir / f"Split-{split}").mkdir(parents=True)
                (stats_dir / f"Split-{split}" / "FeatureStats.pb").write_bytes(value.SerializeToString())
            statistics = record_tfdv.record_statistics(step, str(stats_dir), examples=examples)

        with tfx_step(run, "SchemaGen") as step:
            schema_dir = root / "SchemaGen" / "schema" / "3"
            schema_dir.mkdir(parents=True)
            schema = tfdv.infer_schema(stats["train"])
            tfdv.write_schema_text(schema, str(schema_dir / "schema.pbtxt"))
            schema_ref = record_tfdv.record_schema(step, str(schema_dir / "schema.pbtxt"), statistics=statistics)

        with tfx_step(run, "ExampleValidator") as step:
            anomalies_dir = root / "ExampleValidator" / "anomalies" / "4"
            for split, value in stats.items():
                (anomalies_dir / f"Split-{split}").mkdir(parents=True)
                (anomalies_dir / f"Split-{split}" / "SchemaDiff.pb").write_bytes(
                    tfdv.validate_statistics(value, schema).SerializeToString())
            record_tfdv.record_anomalies(step, str(anomalies_dir), statistics=statistics, schema=schema_ref)

        with tfx_step(run, "Transform") as step:
            graph_dir = root / "Transform" / "transform_graph" / "5"
            transformed_dir = root / "Transform" / "transformed_examples" / "5"
            transformed = transform(splits, graph_dir, transformed_dir, root / "tft_tmp")
            result = record_tft.record_transform(step, str(graph_dir), examples=examples, schema=schema_ref,
                                                 transformed_examples_uri=str(transformed_dir))
            vocab_size = tft.TFTransformOutput(str(graph_dir)).vocabulary_size_by_name("company_vocab")

        with tfx_step(run, "Trainer") as step:
            keras.utils.set_random_seed(3)
            x_train, y_train = features(transformed["train"], vocab_size)
            model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(8, activation="relu"),
                                      keras.layers.Dense(1, activation="sigmoid")])
            model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.02), loss="binary_crossentropy",
                          metrics=["accuracy"])
            model_dir = root / "Trainer" / "model" / "6"
            run_dir = root / "Trainer" / "model_run" / "6"  # the training's log, TFX's ModelRun
            run_dir.mkdir(parents=True)
            callback = MlineageCallback(step, inputs=[result.transform_graph, result.transformed_examples],
                                        model_path=str(model_dir), params={"batch_size": 32},
                                        model_run_uri=str(run_dir))
            model.fit(x_train, y_train, epochs=3, batch_size=32, verbose=0,
                      callbacks=[keras.callbacks.CSVLogger(str(run_dir / "training_log.csv")), callback])
            model_ref = callback.record.model

        with tfx_step(run, "Evaluator") as step:
            x_eval, y_eval = features(transformed["eval"], vocab_size)
            eval_frame = splits["eval"][["company"]].assign(
                label=y_eval.astype("int64"), prediction=model.predict(x_eval, verbose=0).reshape(-1))
            auc = tfma.MetricConfig(class_name="AUC", threshold=tfma.MetricThreshold(
                value_threshold=tfma.GenericValueThreshold(lower_bound={"value": AUC_LOWER_BOUND})))
            config = tfma.EvalConfig(
                model_specs=[tfma.ModelSpec(label_key="label", prediction_key="prediction")],
                slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["company"])],
                metrics_specs=[tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name="ExampleCount"), auc,
                                                         tfma.MetricConfig(class_name="BinaryAccuracy")])])
            evaluation_dir = root / "Evaluator" / "evaluation" / "7"
            tfma.analyze_raw_data(eval_frame, config, output_path=str(evaluation_dir))
            evaluated = record_tfma.record_evaluation(step, str(evaluation_dir), model=model_ref, examples=examples,
                                                      blessing_uri=str(root / "Evaluator" / "blessing" / "7"))

        pushes = {}
        for step_name, server in (("Pusher", "tf_serving"), ("TritonPusher", "triton")):
            with tfx_step(run, step_name, component="Pusher") as step:  # TritonPusher: TFX's Pusher.with_id
                if server == "tf_serving":
                    destination = root / "serving" / "taxi"
                    shutil.copytree(model_dir, destination / "1")
                else:
                    destination = root / "triton_repository" / "taxi"
                    shutil.copytree(model_dir, destination / "1" / "model.savedmodel")
                    (destination / "config.pbtxt").write_text(TRITON_CONFIG)
                if evaluated.blessing is not None:  # TFX's Pusher reads the blessing beside the model
                    blessing = evaluated.blessing
                    step.input(blessing.type_name, uri=blessing.uri, external_id=blessing.key, key="model_blessing")
                pushes[server] = serving.record_push(step, str(destination), model=model_ref, server=server,
                                                     deployment=f"taxi-{server}-{run_id}")

    store = mlineage.connect(args.url)
    summary: dict[str, Any] = {"run_id": run_id, "workdir": str(root), "shift": args.shift,
                               "seconds": round(time.monotonic() - started, 1), "pushed": {}}
    for server, deployment in pushes.items():
        pushed_id = int(deployment.pushed_model.id)
        artifacts, executions, edges = upstream_lineage(store, pushed_id)
        uris = {a.id: a.uri for a in store.get_artifacts_by_id(list(artifacts))}
        print(f"\nUpstream lineage of the {server} push (PushedModel #{pushed_id}):")
        print_tree(pushed_id, artifacts, executions, edges, uris)
        summary["pushed"][server] = {"id": pushed_id, "uri": deployment.pushed_model.uri,
                                     "artifact_types": sorted(set(artifacts.values())),
                                     "nodes": sorted(set(executions.values()))}
    summary["num_examples"] = {s: int(v.datasets[0].num_examples) for s, v in stats.items()}
    summary["missing_fare"] = float(frame["fare"].isna().mean())
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
