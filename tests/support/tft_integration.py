"""Runs inside the TFX environment for tests/integrations/test_tft_integration.py: a real TF.Transform run recorded.

First checks that importing mlineage and its TFT/TFMA integrations loads no TensorFlow. Then runs
tft_beam.AnalyzeAndTransformDataset with a small preprocessing_fn (a z-score and a vocabulary) on
rows it makes, writes transform_fn/ and transformed_metadata/ with WriteTransformFn and the
transformed rows as Split-<s>/transformed_examples-*.gz, records the step with
mlineage.integrations.tft into a SQLite store, tries bad inputs, and prints one JSON line: what
TF.Transform says beside what the store holds.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from tfx_report import heavy_modules, record_counts, refusals, step_io, values  # noqa: E402 - beside this script


def spec_json(spec: dict) -> dict:
    """TF.Transform's own feature spec ({name: tf.io.*Feature}) in the form mlineage records."""
    out = {}
    for name, feature in sorted(spec.items()):
        kind = type(feature).__name__
        entry = {"kind": kind, "dtype": feature.dtype.name}
        if kind == "FixedLenFeature":
            entry["shape"] = list(feature.shape)
        out[name] = entry
    return out


def main(workdir: str) -> None:
    import mlineage
    import mlineage.integrations.tfma
    import mlineage.integrations.tft as record_tft
    from mlineage.integrations import tfdv as record_tfdv
    from mlineage.integrations.tfx_types import declare_artifact_type

    imported_heavy = heavy_modules()

    import tensorflow as tf
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from google.protobuf import text_format
    from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils


    root = Path(workdir)
    raw_spec = {"fare": tf.io.FixedLenFeature([], tf.float32), "company": tf.io.FixedLenFeature([], tf.string),
                "trips": tf.io.FixedLenFeature([], tf.int64), "tags": tf.io.VarLenFeature(tf.string)}
    raw_schema = schema_utils.schema_from_feature_spec(raw_spec)
    raw_metadata = dataset_metadata.DatasetMetadata(raw_schema)
    companies = ["alpha", "beta", "beta", "gamma", "gamma", "gamma"]
    rows = [{"fare": float(3 + i % 11), "company": companies[i % 6].encode(), "trips": i % 4,
             "tags": [b"x"] * (i % 3)} for i in range(48)]

    def preprocessing_fn(inputs):
        return {
            "fare_z": tft.scale_to_z_score(inputs["fare"]),
            "company_id": tft.compute_and_apply_vocabulary(inputs["company"], vocab_filename="company_vocab"),
            "trips": inputs["trips"],
        }

    output_dir = root / "Transform" / "transform_graph" / "5"
    examples_dir = root / "Transform" / "transformed_examples" / "5"
    with tft_beam.Context(temp_dir=str(root / "tft_tmp")):
        (transformed, transformed_metadata), transform_fn = (
            (rows, raw_metadata) | tft_beam.AnalyzeAndTransformDataset(preprocessing_fn))
        _ = transform_fn | tft_beam.WriteTransformFn(str(output_dir))
    coder = tft.coders.ExampleProtoCoder(transformed_metadata.schema)
    for split, part in (("train", transformed[:36]), ("eval", transformed[36:])):
        (examples_dir / f"Split-{split}").mkdir(parents=True)
        path = examples_dir / f"Split-{split}" / "transformed_examples-00000-of-00001.gz"
        with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
            for row in part:
                writer.write(coder.encode(row))
    schema_dir = root / "SchemaGen" / "schema" / "3"
    schema_dir.mkdir(parents=True)
    (schema_dir / "schema.pbtxt").write_text(text_format.MessageToString(raw_schema))
    truth_output = tft.TFTransformOutput(str(output_dir))

    url = f"sqlite:///{root / 'mlineage.db'}"
    failures: dict[str, str] = {}
    with mlineage.run("taxi", run_id="tft-1", url=url) as run:
        with run.step("ExampleGen") as step:
            declare_artifact_type(step, "Examples")
            examples = step.output("Examples", uri=str(root / "ExampleGen" / "examples" / "1"), span=2,
                                   split_names='["train", "eval"]', key="examples")
        with run.step("SchemaGen") as step:
            schema_ref = record_tfdv.record_schema(step, str(schema_dir / "schema.pbtxt"))
        with run.step("Transform") as step:
            result = record_tft.record_transform(step, str(output_dir), examples=examples, schema=schema_ref,
                                                 transformed_examples_uri=str(examples_dir))
        with run.step("TransformFromPaths") as step:
            record_tft.record_transform(step, str(output_dir), examples=str(root / "other_examples"),
                                        schema=str(schema_dir / "schema.pbtxt"), uri="mem://from-paths",
                                        key="from_paths")
        store = mlineage.connect(url)
        counts_before = record_counts(store)
        not_tft = root / "not_tft"
        (not_tft / "transform_fn").mkdir(parents=True)
        (not_tft / "transform_fn" / "saved_model.pb").write_bytes(
            (output_dir / "transform_fn" / "saved_model.pb").read_bytes())
        corrupt = root / "corrupt_tft"
        (corrupt / "transform_fn").mkdir(parents=True)
        (corrupt / "transformed_metadata").mkdir(parents=True)
        (corrupt / "transform_fn" / "saved_model.pb").write_bytes(b"\xff\xff\xff\xff not a SavedModel" * 5)
        (corrupt / "transformed_metadata" / "schema.pbtxt").write_text(
            (output_dir / "transformed_metadata" / "schema.pbtxt").read_text())
        bad_schema = root / "bad_schema.pbtxt"
        bad_schema.write_text('feature { name: "fare" type: FLOAT\n')
        with run.step("BadInputs") as step:
            failures.update(refusals((
                ("not_tft", lambda: record_tft.record_transform(step, str(not_tft), examples=examples,
                                                                transformed_examples_uri=str(examples_dir))),
                ("eval_dir", lambda: record_tft.record_transform(step, str(root / "SchemaGen"), examples=examples)),
                ("corrupt", lambda: record_tft.record_transform(step, str(corrupt), examples=examples)),
                ("bad_schema", lambda: record_tft.record_transform(step, str(output_dir), examples=examples,
                                                                   schema=str(bad_schema))),
                ("nowhere", lambda: record_tft.record_transform(step, str(root / "nowhere"))),
            )))
        counts_after = record_counts(store)


    types, artifacts, steps = step_io(store)
    recorded = {}
    for artifact in artifacts.values():
        recorded.setdefault(f"{types[artifact.type_id]}|{artifact.uri}", values(artifact))
    declared = {t.name: {k: int(v) for k, v in t.properties.items()} | {"base_type": int(t.base_type)}
                for t in store.get_artifact_types()}
    print(json.dumps({
        "imported_heavy": imported_heavy,
        "tft": tft.__version__,
        "truth": {
            "output_spec": spec_json(truth_output.transformed_feature_spec()),
            "raw_spec": spec_json(schema_utils.schema_as_feature_spec(raw_schema).feature_spec),
            "vocab_size": truth_output.vocabulary_size_by_name("company_vocab"),
            "sha256": hashlib.sha256((output_dir / "transform_fn" / "saved_model.pb").read_bytes()).hexdigest(),
        },
        "result": {"graph": result.transform_graph.uri, "examples": result.transformed_examples.uri},
        "recorded": recorded,
        "declared": declared,
        "steps": steps,
        "failures": failures,
        "counts": [counts_before, counts_after],
    }, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
