"""mlineage.integrations.tfdv on real TFDV outputs made in the TFX environment (one subprocess for the module).

tests/support/tfdv_integration.py makes statistics, a schema and anomalies (an eval split with an
unseen category and a new column planted) from small DataFrames, writes them as StatisticsGen,
SchemaGen and ExampleValidator do, records them, and reports TFDV's numbers beside the store's.
"""

from __future__ import annotations

import json

import pytest
from tfx_scripts import recorded_artifact, run_tfx_script


@pytest.fixture(scope="module")
def answer(tmp_path_factory) -> dict:
    return run_tfx_script("tfdv_integration.py", tmp_path_factory.mktemp("tfdv"))


_artifact = recorded_artifact


def test_importing_mlineage_and_its_integrations_loads_no_tensorflow_tfdv_or_tfma(answer):
    assert answer["imported_heavy"] == []


def test_statistics_gen_output_becomes_example_statistics_with_tfdv_numbers(answer):
    stats = _artifact(answer, "ExampleStatistics", "/StatisticsGen/statistics/7")
    truth = answer["truth"]
    assert stats["p:span"] == 3  # from the Examples it describes
    assert json.loads(stats["p:split_names"]) == ["train", "eval"]  # the examples' order, as StatisticsGen copies it
    for split in ("train", "eval"):
        assert stats[f"c:num_examples.{split}"] == truth[split]["num_examples"]
        assert stats[f"c:num_features.{split}"] == truth[split]["num_features"]
        for feature, ratio in truth[split]["missing"].items():
            assert stats[f"c:missing_ratio.{split}.{feature}"] == pytest.approx(ratio)
            assert ratio == pytest.approx(truth[split]["frame_missing"][feature])  # TFDV agrees with pandas
    assert truth["train"]["missing"]["fare"] > 0.1  # the planted missing fares
    assert stats["c:num_examples"] == 160
    assert stats["c:max_missing_ratio"] == pytest.approx(truth["train"]["missing"]["fare"])
    assert stats["c:features_with_missing"] == 1
    assert stats["c:feature_names"] == "company,fare,tip,trips"


def test_tfx_type_names_and_declared_properties(answer):
    declared = answer["declared"]
    assert declared["ExampleStatistics"] == {"span": 1, "split_names": 3, "base_type": 4}  # INT, STRING, STATISTICS
    assert declared["ExampleAnomalies"] == {"span": 1, "split_names": 3, "base_type": 0}
    assert declared["Examples"] == {"span": 1, "version": 1, "split_names": 3, "base_type": 1}  # DATASET
    assert declared["Schema"] == {"base_type": 0}


def test_schema_and_anomalies_carry_tfdv_summaries(answer):
    schema = _artifact(answer, "Schema", "schema.pbtxt")
    assert schema["c:feature_names"] == ",".join(answer["schema_features"])
    assert schema["c:num_features"] == len(answer["schema_features"])
    assert schema["c:required_features"] == ",".join(answer["schema_required"])
    assert schema["c:schema_sha256"] == _artifact(answer, "Schema", "mem://schema")["c:schema_sha256"]
    anomalies = _artifact(answer, "ExampleAnomalies", "/ExampleValidator/anomalies/9")
    planted = answer["anomalies"]["eval"]
    assert anomalies["c:num_anomalies.eval"] == len(planted) == 2
    assert anomalies["c:num_anomalies.train"] == 0
    assert anomalies["c:anomaly_names"] == ",".join(sorted(planted))
    for name, reasons in planted.items():
        assert anomalies[f"c:anomaly_reasons.eval.{name}"] == ",".join(sorted(reasons))
    assert anomalies["c:blessed"] == {"eval": 0, "train": 1}  # a struct, as TFX's JSON-valued property
    assert anomalies["p:span"] == 3


def test_outputs_are_linked_through_their_steps(answer):
    steps = answer["steps"]
    assert [t for t, _ in steps["StatisticsGen"]["inputs"]] == ["Examples"]
    assert [t for t, _ in steps["SchemaGen"]["inputs"]] == ["ExampleStatistics"]
    assert sorted(t for t, _ in steps["ExampleValidator"]["inputs"]) == ["ExampleStatistics", "Schema"]
    assert steps["ExampleValidator"]["outputs"][0][0] == "ExampleAnomalies"


def test_objects_and_pre_029_layout_are_read_too(answer):
    from_objects = _artifact(answer, "ExampleStatistics", "mem://eval")
    assert from_objects["c:num_examples.eval"] == answer["truth"]["eval"]["num_examples"]
    legacy = _artifact(answer, "ExampleStatistics", "/legacy_stats")
    assert legacy["c:num_examples.train"] == answer["truth"]["train"]["num_examples"]
    assert legacy["p:span"] == 1
    assert _artifact(answer, "ExampleAnomalies", "mem://anomalies")["c:num_anomalies"] == 2


def test_bad_input_is_one_error_naming_the_file_and_records_nothing(answer):
    work = answer["workdir"]
    failures = answer["failures"]
    assert failures["not_output"].startswith(f"{work}/not_tfdv is not a TFDV statistics output")
    assert failures["corrupt_stats"].startswith(f"{work}/corrupt/Split-train/FeatureStats.pb is not")
    assert failures["corrupt_schema"].startswith(f"{work}/bad_schema.pbtxt is not a TFDV schema")
    assert failures["missing_anomalies"].startswith(f"{work}/nowhere is not a TFDV anomalies output")
    before, after = answer["counts"]
    assert before == after
