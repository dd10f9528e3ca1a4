"""Runs inside the TFX environment for tests/integrations/test_tfdv_integration.py: real TFDV outputs recorded.

First checks that importing mlineage (its client, CLI and integrations) loads no TensorFlow, TFDV,
TFMA or TF.Transform. Then makes TFDV statistics, an inferred schema and the anomalies of an eval
split with planted anomalies from small DataFrames, writes them in StatisticsGen / SchemaGen /
ExampleValidator layouts, records them with mlineage.integrations.tfdv into a SQLite store, tries
bad inputs, and prints one JSON line: what TFDV computed beside what the store holds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tfx_report import heavy_modules, record_counts, refusals, values  # noqa: E402 - beside this script


def main(workdir: str) -> None:
    import mlineage
    import mlineage.cli
    import mlineage.integrations.serving
    import mlineage.integrations.tfdv as record_tfdv
    from mlineage.integrations.tfx_types import declare_artifact_type

    mlineage.cli.build_parser()
    imported_heavy = heavy_modules()

    import numpy as np
    import pandas as pd
    import tensorflow as tf
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    from mlineage.proto import metadata_store_pb2 as pb

    root = Path(workdir)
    rng = np.random.default_rng(7)
    n_train, n_eval = 120, 40
    train = pd.DataFrame({
        "fare": np.where(rng.random(n_train) < 0.25, np.nan, rng.uniform(2, 40, n_train)),
        "trips": rng.integers(1, 6, n_train),
        "company": rng.choice(["alpha", "beta", "gamma"], n_train),
    })
    evaluation = pd.DataFrame({
        "fare": rng.uniform(2, 40, n_eval),
        "trips": rng.integers(1, 6, n_eval),
        "company": ["zeta"] * 10 + list(rng.choice(["alpha", "beta"], n_eval - 10)),  # planted: unseen values
        "tip": rng.uniform(0, 5, n_eval),  # planted: a column the schema does not know
    })
    train_stats = tfdv.generate_statistics_from_dataframe(train)
    eval_stats = tfdv.generate_statistics_from_dataframe(evaluation)
    schema = tfdv.infer_schema(train_stats)
    train_anomalies = tfdv.validate_statistics(train_stats, schema)
    eval_anomalies = tfdv.validate_statistics(eval_stats, schema)

    # StatisticsGen / SchemaGen / ExampleValidator layouts.
    stats_dir = root / "StatisticsGen" / "statistics" / "7"
    for split, stats in (("train", train_stats), ("eval", eval_stats)):
        (stats_dir / f"Split-{split}").mkdir(parents=True)
        (stats_dir / f"Split-{split}" / "FeatureStats.pb").write_bytes(stats.SerializeToString())
    legacy_dir = root / "legacy_stats"
    (legacy_dir / "train").mkdir(parents=True)
    with tf.io.TFRecordWriter(str(legacy_dir / "train" / "stats_tfrecord")) as writer:
        writer.write(train_stats.SerializeToString())
    schema_dir = root / "SchemaGen" / "schema" / "8"
    schema_dir.mkdir(parents=True)
    tfdv.write_schema_text(schema, str(schema_dir / "schema.pbtxt"))
    anomalies_dir = root / "ExampleValidator" / "anomalies" / "9"
    for split, anomalies in (("train", train_anomalies), ("eval", eval_anomalies)):
        (anomalies_dir / f"Split-{split}").mkdir(parents=True)
        (anomalies_dir / f"Split-{split}" / "SchemaDiff.pb").write_bytes(anomalies.SerializeToString())

    url = f"sqlite:///{root / 'mlineage.db'}"
    failures: dict[str, str] = {}
    with mlineage.run("taxi", run_id="tfdv-1", url=url) as run:
        with run.step("StatisticsGen") as step:
            declare_artifact_type(step, "Examples")
            examples = step.input("Examples", uri=str(root / "examples"), span=3,
                                  split_names='["train", "eval"]')
            stats_ref = record_tfdv.record_statistics(step, str(stats_dir), examples=examples)
        with run.step("SchemaGen") as step:
            schema_ref = record_tfdv.record_schema(step, str(schema_dir / "schema.pbtxt"), statistics=stats_ref)
        with run.step("ExampleValidator") as step:
            record_tfdv.record_anomalies(step, str(anomalies_dir), statistics=stats_ref, schema=schema_ref)
        with run.step("ObjectsAndLegacy") as step:
            record_tfdv.record_statistics(step, {"eval": eval_stats}, uri="mem://eval", key="from_objects")
            record_tfdv.record_statistics(step, str(legacy_dir), key="legacy", span=1)
            record_tfdv.record_anomalies(step, eval_anomalies, split="eval", uri="mem://anomalies", key="obj")
            record_tfdv.record_schema(step, schema, uri="mem://schema", key="obj_schema")
        store = mlineage.connect(url)
        counts_before = record_counts(store)
        not_output = root / "not_tfdv"
        (not_output / "Split-train").mkdir(parents=True)
        (not_output / "Split-train" / "data.csv").write_text("a,b\n1,2\n")
        corrupt_stats = root / "corrupt" / "Split-train"
        corrupt_stats.mkdir(parents=True)
        (corrupt_stats / "FeatureStats.pb").write_bytes(b"\xff\xfe not a proto \x00\x01" * 7)
        corrupt_schema = root / "bad_schema.pbtxt"
        corrupt_schema.write_text('feature { name: "fare" type: FLOAT \n')
        with run.step("BadInputs") as step:
            failures.update(refusals((
                ("not_output", lambda: record_tfdv.record_statistics(step, str(not_output), examples=examples)),
                ("corrupt_stats", lambda: record_tfdv.record_statistics(step, str(root / "corrupt"),
                                                                          examples=examples)),
                ("corrupt_schema", lambda: record_tfdv.record_schema(step, str(corrupt_schema),
                                                                      statistics=stats_ref)),
                ("missing_anomalies", lambda: record_tfdv.record_anomalies(step, str(root / "nowhere"),
                                                                             schema=schema_ref)),
            )))
        counts_after = record_counts(store)

    types = {t.id: t.name for t in store.get_artifact_types()}
    executions = {e.id: e for e in store.get_executions()}
    artifacts = {a.id: a for a in store.get_artifacts()}
    events = store.get_events_by_execution_ids(list(executions))
    steps: dict[str, dict[str, list]] = {}
    for event in events:
        step_name = executions[event.execution_id].custom_properties["step"].string_value
        direction = "inputs" if event.type == pb.Event.INPUT else "outputs"
        artifact = artifacts[event.artifact_id]
        steps.setdefault(step_name, {"inputs": [], "outputs": []})[direction].append(
            [types[artifact.type_id], artifact.uri])
    recorded = {}
    for artifact in artifacts.values():
        recorded.setdefault(f"{types[artifact.type_id]}|{artifact.uri}", values(artifact, structs=True))
    declared = {t.name: {k: int(v) for k, v in t.properties.items()} | {"base_type": int(t.base_type)}
                for t in store.get_artifact_types()}

    def truth(stats, frame):
        view = stats.datasets[0]
        out = {"num_examples": int(view.num_examples), "num_features": len(view.features), "missing": {}}
        for feature in view.features:
            name = feature.path.step[0]
            kind = feature.WhichOneof("stats")
            out["missing"][name] = getattr(feature, kind).common_stats.num_missing / view.num_examples
        out["frame_missing"] = {c: float(frame[c].isna().mean()) for c in frame.columns}
        return out

    anomalies_view = {split: {name: [anomalies_pb2.AnomalyInfo.Type.Name(r.type) for r in info.reason]
                              for name, info in a.anomaly_info.items()}
                      for split, a in (("train", train_anomalies), ("eval", eval_anomalies))}
    print(json.dumps({
        "imported_heavy": imported_heavy,
        "tfdv": tfdv.__version__,
        "truth": {"train": truth(train_stats, train), "eval": truth(eval_stats, evaluation)},
        "schema_features": sorted(f.name for f in schema.feature),
        "schema_required": sorted(f.name for f in schema.feature if f.presence.min_fraction == 1.0),
        "anomalies": anomalies_view,
        "recorded": recorded,
        "declared": declared,
        "steps": steps,
        "failures": failures,
        "counts": [counts_before, counts_after],
    }, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
