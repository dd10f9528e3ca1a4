"""Runs inside the TFX environment for tests/integrations/test_tfma_integration.py: real TFMA evaluations recorded.

First checks that importing mlineage and its TFMA/TFT integrations loads no TensorFlow or TFMA.
Then runs tfma.analyze_raw_data on a DataFrame of labels, predictions and a city column three
times: with an AUC threshold the model fails (sliced by city), with one it passes, and with no
threshold; records them with mlineage.integrations.tfma into a SQLite store, tries bad inputs,
and prints one JSON line: TFMA's own metrics and validation result beside what the store holds.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from tfx_report import heavy_modules, record_counts, refusals, step_io  # noqa: E402 - beside this script
from tfx_report import values as _values  # noqa: E402


def values(node) -> dict:
    return _values(node, structs=True)


def main(workdir: str) -> None:
    import mlineage
    import mlineage.integrations.tfma as record_tfma
    import mlineage.integrations.tft
    from mlineage.integrations.tfx_types import declare_artifact_type

    imported_heavy = heavy_modules()

    import numpy as np
    import pandas as pd
    import tensorflow_model_analysis as tfma

    from mlineage.metadata.options import ListOptions

    root = Path(workdir)
    rng = np.random.default_rng(11)
    n = 240
    label = rng.integers(0, 2, n)
    frame = pd.DataFrame({
        "label": label,
        "prediction": np.clip(label * 0.35 + rng.random(n) * 0.65, 0.0, 1.0),
        "city": rng.choice(["paris", "lyon", "nice"], n),
    })

    def config(lower_bound: float | None, sliced: bool):
        auc = tfma.MetricConfig(class_name="AUC")
        if lower_bound is not None:
            auc.threshold.CopyFrom(tfma.MetricThreshold(
                value_threshold=tfma.GenericValueThreshold(lower_bound={"value": lower_bound})))
        slicing = [tfma.SlicingSpec()] + ([tfma.SlicingSpec(feature_keys=["city"])] if sliced else [])
        return tfma.EvalConfig(
            model_specs=[tfma.ModelSpec(label_key="label", prediction_key="prediction")],
            slicing_specs=slicing,
            metrics_specs=[tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name="ExampleCount"), auc,
                                                     tfma.MetricConfig(class_name="BinaryAccuracy")])])

    failing_dir = root / "Evaluator" / "evaluation" / "9"
    passing_dir = root / "Evaluator" / "evaluation" / "10"
    plain_dir = root / "Evaluator" / "evaluation" / "11"
    results = {
        "failing": tfma.analyze_raw_data(frame, config(0.99, True), output_path=str(failing_dir)),
        "passing": tfma.analyze_raw_data(frame, config(0.5, False), output_path=str(passing_dir)),
        "plain": tfma.analyze_raw_data(frame, config(None, False), output_path=str(plain_dir)),
    }
    truth = {}
    for name, result in results.items():
        slices = {}
        for slice_tuple, _ in result.slicing_metrics:
            metrics = result.get_metrics_for_slice(slice_name=slice_tuple)
            label_ = "Overall" if not slice_tuple else "_X_".join(c for c, _ in slice_tuple) + ":" + "_X_".join(
                (v.decode() if isinstance(v, bytes) else str(v)) for _, v in slice_tuple)
            slices[label_] = {k: v["doubleValue"] for k, v in metrics.items() if "doubleValue" in v}
        validation = tfma.load_validation_result(str(result_dir(root, name)))
        truth[name] = {
            "slices": slices,
            "validation_ok": bool(validation.validation_ok),
            "failures": sorted(f.metric_key.name for s in validation.metric_validations_per_slice
                               for f in s.failures),
        }

    url = f"sqlite:///{root / 'mlineage.db'}"
    failures: dict[str, str] = {}
    with mlineage.run("taxi", run_id="tfma-1", url=url) as run:
        with run.step("Trainer") as step:
            declare_artifact_type(step, "Model")
            model = step.output("Model", uri=str(root / "Trainer" / "model" / "6"), key="model")
        with run.step("Evaluator") as step:
            failing = record_tfma.record_evaluation(step, str(failing_dir), model=model,
                                                    examples=str(root / "ExampleGen" / "examples" / "1"))
        with run.step("EvaluatorPassing") as step:
            passing = record_tfma.record_evaluation(step, str(passing_dir), model=model,
                                                    baseline=str(root / "Trainer" / "model" / "2"),
                                                    blessing_uri=str(root / "Evaluator" / "blessing" / "10"))
        with run.step("EvaluatorNoThreshold") as step:
            plain = record_tfma.record_evaluation(step, str(plain_dir), model=model)
        store = mlineage.connect(url)
        counts_before = record_counts(store)
        not_tfma = root / "not_tfma"
        not_tfma.mkdir()
        (not_tfma / "eval_config.json").write_text((failing_dir / "eval_config.json").read_text())
        corrupt = root / "corrupt_tfma"
        shutil.copytree(failing_dir, corrupt)
        metrics_file = sorted(corrupt.glob("metrics-*.tfrecord"))[0]
        data = bytearray(metrics_file.read_bytes())
        data[20] ^= 0xFF  # one flipped byte in the first record's payload: its checksum no longer matches
        metrics_file.write_bytes(bytes(data))
        bad_config = root / "bad_config"
        shutil.copytree(failing_dir, bad_config)
        (bad_config / "eval_config.json").write_text("{ not json")
        with run.step("BadInputs") as step:
            failures.update(refusals((
                ("not_tfma", lambda: record_tfma.record_evaluation(step, str(not_tfma), model=model)),
                ("corrupt", lambda: record_tfma.record_evaluation(step, str(corrupt), model=model)),
                ("bad_config", lambda: record_tfma.record_evaluation(step, str(bad_config), model=model)),
                ("nowhere", lambda: record_tfma.record_evaluation(step, str(root / "nowhere"), model=model)),
                ("forced_blessing", lambda: record_tfma.record_evaluation(step, str(not_tfma), blessing=True)),
            )))
        counts_after = record_counts(store)

    types, artifacts, steps = step_io(store)
    recorded = {f"{types[a.type_id]}|{a.uri}": values(a) for a in artifacts.values()}
    model_id = next(a.id for a in artifacts.values() if a.uri == model.uri)
    query = "custom_properties.`slice.city:paris.auc`.double_value > 0.5 AND type = 'ModelEvaluation'"
    by_slice = [a.uri for a in store.get_artifacts(list_options=ListOptions(filter_query=query))]
    unblessed = [a.uri for a in store.get_artifacts(list_options=ListOptions(
        filter_query="custom_properties.blessed.int_value = 0 AND type = 'ModelBlessing'"))]
    print(json.dumps({
        "imported_heavy": imported_heavy,
        "tfma": tfma.__version__,
        "truth": truth,
        "results": {"failing": [failing.evaluation.uri, failing.blessing.uri],
                    "passing": [passing.evaluation.uri, passing.blessing.uri],
                    "plain": [plain.evaluation.uri, plain.blessing]},
        "model": {"uri": model.uri, "id": model_id},
        "recorded": recorded,
        "steps": steps,
        "by_slice": by_slice,
        "unblessed": unblessed,
        "failures": failures,
        "counts": [counts_before, counts_after],
    }, default=str))


def result_dir(root: Path, name: str) -> Path:
    return root / "Evaluator" / "evaluation" / {"failing": "9", "passing": "10", "plain": "11"}[name]


if __name__ == "__main__":
    main(sys.argv[1])
