"""`mlineage record KIND PATH --run R --step S --input TYPE:URI`: outputs recorded and linked from the command line.

A push to a TF Serving layout written here runs in the main environment; TFDV statistics, schema and
anomalies are real TFDV outputs made by tests/support/tfdv_integration.py in the TFX environment (one
subprocess for the module), recorded by `mlineage record` run there (reading them needs
tensorflow-metadata, which only that environment has) and checked here against TFDV's own numbers.
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess

import pytest
from paths import REPO_ROOT, SUPPORT, TESTS

import mlineage
from mlineage.cli import main
from mlineage.client.records import from_value
from mlineage.proto import metadata_store_pb2 as pb


def _values(node) -> dict:
    values = {name: from_value(value) for name, value in node.custom_properties.items()}
    values.update({name: from_value(value) for name, value in node.properties.items()})
    return values


def _counts(url: str) -> tuple[int, int, int, int]:
    store = mlineage.connect(url)
    executions = store.get_executions()
    return (len(store.get_artifacts()), len(executions), len(store.get_contexts()),
            len(store.get_events_by_execution_ids([e.id for e in executions])))


def _links(store, step_name: str) -> dict[str, list[tuple[str, str, str]]]:
    """{INPUT|OUTPUT: [(key, type, external id)]} of the step's execution, and each artifact's URI."""
    [execution] = [e for e in store.get_executions() if e.custom_properties["step"].string_value == step_name]
    types = {t.id: t.name for t in store.get_artifact_types()}
    events = store.get_events_by_execution_ids([execution.id])
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    found: dict[str, list] = {"INPUT": [], "OUTPUT": []}
    for event in events:
        artifact = artifacts[event.artifact_id]
        found[pb.Event.Type.Name(event.type)].append((event.path.steps[0].key, types[artifact.type_id],
                                                      artifact.external_id))
        found.setdefault("uris", []).append((event.path.steps[0].key, artifact.uri))
    return {k: sorted(v) for k, v in found.items()}


@pytest.fixture
def pushed(tmp_path):
    """A trained model recorded by a Trainer step, and a TF Serving base path it was pushed to."""
    url = f"sqlite:///{tmp_path / 'm.db'}"
    with mlineage.run("taxi", run_id="r1", url=url) as run:
        with run.step("Trainer") as step:
            model = step.output("Model", uri=str(tmp_path / "trainer" / "model"))
    base = tmp_path / "serving" / "taxi"
    for version in ("1700000000", "1700000500"):
        (base / version / "variables").mkdir(parents=True)
        (base / version / "saved_model.pb").write_bytes(b"\x08\x01")
    return url, model, base


def test_record_push_makes_a_pushed_model_linked_to_the_trained_model(tmp_path, pushed, capsys):
    url, model, base = pushed
    code = main(["record", "push", str(base), "--run", "r1", "--step", "Pusher", "--pipeline", "taxi",
                 "--input", f"Model:{model.uri}", "--input", f"Examples:{tmp_path / 'examples'}",
                 "--deployment", "taxi-prod", "--url", url])
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"recorded PushedModel {base / '1700000500'} (artifact ")
    assert out.rstrip().endswith("in taxi/r1/Pusher")
    store = mlineage.connect(url)
    [artifact] = store.get_artifacts_by_type("PushedModel")
    values = _values(artifact)
    assert values["pushed"] == 1 and values["pushed_version"] == "1700000500"
    assert values["pushed_destination"] == str(base / "1700000500") and values["server"] == "tf_serving"
    links = _links(store, "Pusher")
    assert ("model", "Model", model.key) in links["INPUT"]  # the Trainer's own artifact, found by its URI
    assert ("examples", str(tmp_path / "examples")) in links["uris"]
    assert len(links["INPUT"]) == 2 and len(store.get_artifacts_by_type("Model")) == 1
    assert [(k, t) for k, t, _ in links["OUTPUT"]] == [("pushed_model", "PushedModel")]
    deployment = store.get_context_by_type_and_name("deployment", "taxi-prod")
    assert deployment is not None
    run_context = store.get_context_by_type_and_name("pipeline_run", "taxi/r1")
    [pusher] = [e for e in store.get_executions_by_context(run_context.id)
                if e.custom_properties["step"].string_value == "Pusher"]
    assert pusher.last_known_state == pb.Execution.COMPLETE
    # Recorded as TFX records its Pusher node: the component's class path, the node's context.
    [pusher_type] = store.get_execution_types_by_id([pusher.type_id])
    assert pusher_type.name == "tfx.components.pusher.component.Pusher"
    node = store.get_context_by_type_and_name("node", "taxi.Pusher")
    assert node is not None and pusher.id in [e.id for e in store.get_executions_by_context(node.id)]


@pytest.mark.parametrize("case", ["not_a_saved_model", "no_such_path", "input_without_type", "tfma_not_output"])
def test_bad_input_is_one_line_exit_2_and_nothing_is_written(tmp_path, pushed, capsys, case):
    url, model, base = pushed
    if case == "tfma_not_output":
        pytest.importorskip("mlineage.integrations.tfma")
    kind, path, extra = "push", str(base), ["--input", f"Model:{model.uri}"]
    if case == "not_a_saved_model":
        (base / "1700000900").mkdir()
        expected = f"error: {base / '1700000900'} is not a SavedModel"
    elif case == "no_such_path":
        path = str(tmp_path / "nowhere")
        expected = f"error: {path}: no such file or directory"
    elif case == "input_without_type":
        extra = ["--input", "gs://bucket/models/7"]
        expected = "error: input 'gs://bucket/models/7' is not TYPE:URI"
    else:
        kind, path = "tfma", str(tmp_path / "trainer")
        (tmp_path / "trainer").mkdir(exist_ok=True)
        expected = f"error: {path} is not a TFMA evaluation output"
    before = _counts(url)
    code = main(["record", kind, path, "--run", "r2", "--step", "Pusher", "--url", url, *extra])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(expected) and err.count("\n") == 1 and "Traceback" not in err
    assert _counts(url) == before
    assert mlineage.connect(url).get_context_by_type_and_name("pipeline_run", "default/r2") is None


def test_record_without_run_or_step_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["record", "push", "/tmp/x", "--step", "Pusher"])
    assert info.value.code == 2
    assert "--run" in capsys.readouterr().err


# --- TFDV, in the TFX environment ----------------------------------------------------------------


def _tfx_python() -> str:
    return runpy.run_path(str(TESTS / "integrations" / "test_tfx_environment.py"))["tfx_python"]()


@pytest.fixture(scope="module")
def tfdv_outputs(tmp_path_factory) -> dict:
    """Real TFDV outputs (StatisticsGen/SchemaGen/ExampleValidator layouts) and TFDV's numbers for them."""
    python = _tfx_python()
    workdir = tmp_path_factory.mktemp("tfdv_cli")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([python, str(SUPPORT / "tfdv_integration.py"), str(workdir)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    answer.update(workdir=workdir, python=python, env=env)
    return answer


def _record_in_tfx(outputs: dict, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([outputs["python"], "-m", "mlineage.cli", "record", *arguments],
                          capture_output=True, text=True, timeout=300, env=outputs["env"])


def test_record_tfdv_stats_schema_anomalies_with_input_links(tmp_path, tfdv_outputs):
    root = tfdv_outputs["workdir"]
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    examples_uri = str(root / "CsvExampleGen" / "examples" / "6")
    with mlineage.run("taxi", run_id="r1", url=url) as run:
        with run.step("CsvExampleGen") as step:
            from mlineage.integrations.tfx_types import declare_artifact_type

            declare_artifact_type(step, "Examples")
            examples = step.output("Examples", uri=examples_uri, span=3, split_names='["train", "eval"]')
    stats_dir = str(root / "StatisticsGen" / "statistics" / "7")
    schema_file = str(root / "SchemaGen" / "schema" / "8" / "schema.pbtxt")
    anomalies_dir = str(root / "ExampleValidator" / "anomalies" / "9")
    common = ["--run", "r1", "--pipeline", "taxi", "--url", url]
    for arguments in (
        ["tfdv-stats", stats_dir, "--step", "StatisticsGen", "--input", f"Examples:{examples_uri}"],
        ["tfdv-schema", schema_file, "--step", "SchemaGen", "--input", f"ExampleStatistics:{stats_dir}"],
        ["tfdv-anomalies", anomalies_dir, "--step", "ExampleValidator",
         "--input", f"ExampleStatistics:{stats_dir}", "--input", f"Schema:{schema_file}"],
    ):
        done = _record_in_tfx(tfdv_outputs, *arguments, *common)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.startswith("recorded ")
    store = mlineage.connect(url)
    [stats] = store.get_artifacts_by_type("ExampleStatistics")
    values = _values(stats)
    truth = tfdv_outputs["truth"]
    assert values["span"] == 3  # from the linked Examples
    for split in ("train", "eval"):
        assert values[f"num_examples.{split}"] == truth[split]["num_examples"]
        assert values[f"num_features.{split}"] == truth[split]["num_features"]
    assert _links(store, "StatisticsGen")["INPUT"] == [("examples", "Examples", examples.key)]
    [schema] = store.get_artifacts_by_type("Schema")
    assert _values(schema)["feature_names"] == ",".join(tfdv_outputs["schema_features"])
    assert _links(store, "SchemaGen")["INPUT"] == [("statistics", "ExampleStatistics", stats.external_id)]
    [anomalies] = store.get_artifacts_by_type("ExampleAnomalies")
    assert _values(anomalies)["num_anomalies.eval"] == len(tfdv_outputs["anomalies"]["eval"]) == 2
    assert _links(store, "ExampleValidator")["INPUT"] == [
        ("schema", "Schema", schema.external_id), ("statistics", "ExampleStatistics", stats.external_id)]

    before = _counts(url)
    done = _record_in_tfx(tfdv_outputs, "tfdv-stats", str(root / "corrupt"), "--step", "StatisticsGen",
                          "--input", f"Examples:{examples_uri}", *common)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {root / 'corrupt' / 'Split-train' / 'FeatureStats.pb'} is not a TFDV")
    assert "Traceback" not in done.stderr
    assert _counts(url) == before


def _support_outputs(tmp_path_factory, script: str) -> dict:
    """Run a TFX-environment support script (real TFT or TFMA outputs in its workdir); its JSON answer."""
    python = _tfx_python()
    workdir = tmp_path_factory.mktemp(script.split(".")[0])
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([python, str(SUPPORT / script), str(workdir)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    answer.update(workdir=workdir, python=python, env=env)
    return answer


@pytest.fixture(scope="module")
def tft_outputs(tmp_path_factory) -> dict:
    return _support_outputs(tmp_path_factory, "tft_integration.py")


@pytest.fixture(scope="module")
def tfma_outputs(tmp_path_factory) -> dict:
    return _support_outputs(tmp_path_factory, "tfma_integration.py")


def test_record_tft_links_the_stored_examples_and_schema(tmp_path, tft_outputs):
    root = tft_outputs["workdir"]
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    examples_uri = str(root / "ExampleGen" / "examples" / "1")
    schema_uri = str(root / "SchemaGen" / "schema" / "3" / "schema.pbtxt")
    with mlineage.run("taxi", run_id="r1", url=url) as run:
        with run.step("ExampleGen") as step:
            from mlineage.integrations.tfx_types import declare_artifact_type

            declare_artifact_type(step, "Examples")
            examples = step.output("Examples", uri=examples_uri, span=2, split_names='["train", "eval"]')
            schema = step.output("Schema", uri=schema_uri)
    transformed_uri = str(root / "Transform" / "transformed_examples" / "5")
    done = _record_in_tfx(tft_outputs, "tft", str(root / "Transform" / "transform_graph" / "5"),
                          "--run", "r1", "--pipeline", "taxi", "--step", "Transform", "--url", url,
                          "--input", f"Examples:{examples_uri}", "--input", f"Schema:{schema_uri}",
                          "--transformed-examples-uri", transformed_uri)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("recorded ") == 2  # the TransformGraph and the transformed Examples
    store = mlineage.connect(url)
    [graph] = store.get_artifacts_by_type("TransformGraph")
    values = _values(graph)
    truth = tft_outputs["truth"]
    assert values["vocabulary_size.company_vocab"] == truth["vocab_size"]
    assert values["transform_fn_sha256"] == truth["sha256"]
    assert json.loads(values["output_feature_spec"]) == truth["output_spec"]
    links = _links(store, "Transform")
    assert links["INPUT"] == [("examples", "Examples", examples.key), ("schema", "Schema", schema.key)]
    [transformed] = [a for a in store.get_artifacts_by_type("Examples") if a.uri == transformed_uri]
    assert _values(transformed)["span"] == 2  # from the stored examples the command linked


def test_record_tfma_makes_an_evaluation_and_a_blessing_linked_to_the_model(tmp_path, tfma_outputs):
    root = tfma_outputs["workdir"]
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    model_uri = str(root / "Trainer" / "model" / "6")
    with mlineage.run("taxi", run_id="r1", url=url) as run:
        with run.step("Trainer") as step:
            model = step.output("Model", uri=model_uri)
    done = _record_in_tfx(tfma_outputs, "tfma", str(root / "Evaluator" / "evaluation" / "9"),
                          "--run", "r1", "--pipeline", "taxi", "--step", "Evaluator", "--url", url,
                          "--input", f"Model:{model_uri}")
    assert done.returncode == 0, done.stderr[-3000:]
    store = mlineage.connect(url)
    [evaluation] = store.get_artifacts_by_type("ModelEvaluation")
    truth = tfma_outputs["truth"]["failing"]
    assert _values(evaluation)["auc"] == pytest.approx(truth["slices"]["Overall"]["auc"])
    [blessing] = store.get_artifacts_by_type("ModelBlessing")
    assert _values(blessing)["blessed"] == 0 and truth["validation_ok"] is False
    assert _links(store, "Evaluator")["INPUT"] == [("model", "Model", model.key)]
