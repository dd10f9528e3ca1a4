"""mlineage.integrations.tft on a real TF.Transform run made in the TFX environment (one subprocess for the module).

tests/support/tft_integration.py runs tft_beam.AnalyzeAndTransformDataset (a z-score, a vocabulary)
on small data, writes transform_fn/ and transformed_metadata/ and the transformed examples, records
the step, and reports TF.Transform's own feature specs and vocabulary size beside the store's.
"""

from __future__ import annotations

import json

import pytest
from tfx_scripts import recorded_artifact, run_tfx_script


@pytest.fixture(scope="module")
def answer(tmp_path_factory) -> dict:
    return run_tfx_script("tft_integration.py", tmp_path_factory.mktemp("tft"))


_artifact = recorded_artifact


def test_importing_the_tft_and_tfma_integrations_loads_no_tensorflow(answer):
    assert answer["imported_heavy"] == []


def test_transform_graph_carries_tft_own_feature_specs(answer):
    graph = _artifact(answer, "TransformGraph", "/Transform/transform_graph/5")
    truth = answer["truth"]
    assert json.loads(graph["c:output_feature_spec"]) == truth["output_spec"]
    assert json.loads(graph["c:input_feature_spec"]) == truth["raw_spec"]
    assert graph["c:output_feature_names"] == "company_id,fare_z,trips" == ",".join(truth["output_spec"])
    assert graph["c:num_output_features"] == 3
    assert graph["c:input_feature_names"] == "company,fare,tags,trips"
    assert json.loads(graph["c:input_feature_spec"])["tags"]["kind"] == "VarLenFeature"
    assert graph["c:vocabulary_size.company_vocab"] == truth["vocab_size"] == 3
    assert graph["c:vocabularies"] == "company_vocab"
    assert graph["c:transform_fn_sha256"] == truth["sha256"]
    assert graph["c:transform_fn_tags"] == "serve"
    assert graph["c:transform_fn_outputs"] == "company_id,fare_z,trips"  # read from the SavedModel itself
    assert answer["declared"]["TransformGraph"] == {"base_type": 0}  # TFX declares no properties


def test_transform_step_is_linked_to_its_examples_and_schema_with_tfx_keys(answer):
    transform = answer["steps"]["Transform"]
    assert sorted((t, slot) for t, _, slot in transform["inputs"]) == [("Examples", "examples"),
                                                                       ("Schema", "schema")]
    assert sorted((t, slot) for t, _, slot in transform["outputs"]) == [("Examples", "transformed_examples"),
                                                                        ("TransformGraph", "transform_graph")]
    [schema_input] = [uri for t, uri, _ in transform["inputs"] if t == "Schema"]
    assert schema_input.endswith("/SchemaGen/schema/3/schema.pbtxt")  # the SchemaGen output, not a copy
    assert answer["result"]["graph"].endswith("/Transform/transform_graph/5")


def test_transformed_examples_are_examples_with_span_and_split_names(answer):
    examples = _artifact(answer, "Examples", "/Transform/transformed_examples/5")
    assert examples["p:span"] == 2  # the span of the examples transformed
    assert json.loads(examples["p:split_names"]) == ["train", "eval"]  # the Split-<s> folders, in the examples' order
    assert answer["declared"]["Examples"] == {"span": 1, "version": 1, "split_names": 3, "base_type": 1}


def test_paths_are_taken_for_examples_and_schema(answer):
    graph = _artifact(answer, "TransformGraph", "mem://from-paths")
    assert json.loads(graph["c:input_feature_spec"]) == answer["truth"]["raw_spec"]
    inputs = answer["steps"]["TransformFromPaths"]["inputs"]
    assert sorted(t for t, _, _ in inputs) == ["Examples", "Schema"]


def test_bad_input_is_one_error_naming_the_path_and_records_nothing(answer):
    work = answer["workdir"]
    failures = answer["failures"]
    assert failures["not_tft"] == (f"{work}/not_tft is not a TF.Transform output: "
                                   "no transformed_metadata/schema.pbtxt in it")
    assert failures["eval_dir"].startswith(f"{work}/SchemaGen is not a TF.Transform output: no transform_fn/")
    assert failures["corrupt"].startswith(f"{work}/corrupt_tft is not a TF.Transform output: "
                                          f"{work}/corrupt_tft/transform_fn/saved_model.pb is not a SavedModel")
    assert failures["bad_schema"].startswith(f"{work}/bad_schema.pbtxt is not a TFDV schema")
    assert failures["nowhere"] == f"{work}/nowhere is not a TF.Transform output: no such directory"
    before, after = answer["counts"]
    assert before == after
