"""The run/step logging API, on SQLite and PostgreSQL in-process and through `mlineage serve` (journal)."""

from __future__ import annotations

import subprocess

import client_support
import pytest
from client_support import connect, execution, metric_series, props, unique
from paths import DATA

import mlineage
from mlineage.client.records import Applier
from mlineage.proto import metadata_store_pb2 as pb

MODELS = DATA / "models"
STATE = pb.Execution.State
server, target = client_support.server, client_support.target  # fixtures


def test_run_and_step_record_contexts_states_params_metrics_and_artifacts(target):
    pipeline = unique("taxi")
    with mlineage.run(pipeline, run_id="2026-11-29-a", url=target) as run:
        with run.step("Trainer") as step:
            data = step.input("Examples", uri="gs://b/taxi/3", span=3)
            step.log_params(learning_rate=0.01, batch_size=256)
            for i in range(1, 6):
                step.log_metric("loss", 1.0 / i, step=i * 100)
            model = step.output_model("gs://b/models/7", framework="tensorflow", format="saved_model")
    store = connect(target)
    run_context = store.get_context_by_type_and_name("pipeline_run", f"{pipeline}/2026-11-29-a")
    pipeline_context = store.get_context_by_type_and_name("pipeline", pipeline)
    assert [c.id for c in store.get_parent_contexts_by_context(run_context.id)] == [pipeline_context.id]
    assert props(run_context)["status"] == "COMPLETE"

    trainer = execution(store, step.external_id)
    assert trainer.last_known_state == STATE.COMPLETE
    values = props(trainer)
    assert values["param.learning_rate"] == 0.01 and values["param.batch_size"] == 256
    assert values["metric.loss"] == pytest.approx(0.2)
    assert values["step"] == "Trainer" and values["run_id"] == "2026-11-29-a"
    for fact in ("host", "user", "pid", "python_version", "started_at_ms", "ended_at_ms", "duration_s"):
        assert fact in values, fact
    assert "mlineage" in values["packages"]
    assert {c.id for c in store.get_contexts_by_execution(trainer.id)} == {run_context.id, pipeline_context.id}

    events = {(e.artifact_id, e.type) for e in store.get_events_by_execution_ids([trainer.id])}
    [examples] = store.get_artifacts_by_external_ids([data.external_id])
    [saved] = store.get_artifacts_by_external_ids([model.external_id])
    assert events == {(examples.id, pb.Event.INPUT), (saved.id, pb.Event.OUTPUT)}
    assert examples.uri == "gs://b/taxi/3" and props(examples)["span"] == 3
    assert props(saved)["framework"] == "tensorflow" and props(saved)["format"] == "saved_model"
    assert props(saved)["producer_component"] == "Trainer"
    assert {a.id for a in store.get_artifacts_by_context(run_context.id)} == {examples.id, saved.id}
    [series] = metric_series(store, [trainer.id], ["loss"])
    assert list(series.step) == [100, 200, 300, 400, 500]
    assert data.id == examples.id and step.id == trainer.id


def test_states_go_new_running_complete_and_failed_keeps_the_error(target):
    pipeline = unique("states")
    seen = []
    with mlineage.run(pipeline, url=target) as run:
        with pytest.raises(ValueError, match="boom"):
            with run.step("Flaky") as step:
                seen.append(step.state)
                raise ValueError("boom")
        run.flush()
    store = connect(target)
    failed = execution(store, step.external_id)
    assert seen == ["RUNNING"]
    assert failed.last_known_state == STATE.FAILED
    assert props(failed)["error"] == "ValueError: boom"
    assert "raise ValueError" in props(failed)["error_traceback"]


def test_metric_series_of_thousands_of_points_read_back_in_order(target):
    with mlineage.run(unique("metrics"), url=target) as run:
        with run.step("Trainer") as step:
            for i in range(5000):
                step.log_metric("loss", 10.0 / (i + 1))
                if i % 5 == 0:
                    step.log_metric("accuracy", i / 5000, step=i)
            step.log_metric("loss", float("nan"))
    store = connect(target)
    trainer = execution(store, step.external_id)
    loss, = metric_series(store, [trainer.id], ["loss"])
    assert len(loss.seq) == 5001 and list(loss.seq) == list(range(1, 5002))
    assert list(loss.step[:3]) == [1, 2, 3]
    assert loss.value[4999] == pytest.approx(10.0 / 5000)
    assert loss.value[5000] != loss.value[5000]  # NaN survives
    accuracy, = metric_series(store, [trainer.id], ["accuracy"])
    assert len(accuracy.seq) == 1000 and accuracy.step[-1] == 4995
    assert props(trainer)["metric.accuracy"] == pytest.approx(4995 / 5000)


def test_inputs_reuse_stored_artifacts_by_uri_and_by_external_id(target):
    pipeline = unique("reuse")
    with mlineage.run(pipeline, url=target) as run:
        with run.step("ExampleGen") as gen:
            produced = gen.output("Examples", "gs://b/reuse/1", external_id=unique("examples"))
            schema = gen.output("Schema", "gs://b/reuse/schema")
        run.flush()
        with run.step("Trainer") as trainer:
            by_uri = trainer.input("Examples", "gs://b/reuse/1")
            by_id = trainer.input("Schema", external_id=schema.external_id)
            fresh = trainer.input("Examples", "gs://b/reuse/never-seen")
    store = connect(target)
    assert by_uri.id == produced.id
    assert by_id.id == schema.id
    assert fresh.id not in (produced.id, schema.id)
    trainer_id = execution(store, trainer.external_id).id
    inputs = {e.artifact_id for e in store.get_events_by_execution_ids([trainer_id]) if e.type == pb.Event.INPUT}
    assert inputs == {produced.id, schema.id, fresh.id}
    assert len(store.get_artifacts_by_uri("gs://b/reuse/1")) == 1


def test_decorator_records_each_call_and_passes_the_step(target):
    calls = []
    with mlineage.run(unique("decorated"), url=target) as run:

        @run.step("Transform")
        def transform(x, step):
            step.log_param("x", x)
            calls.append(step.external_id)
            return x * 2

        @mlineage.step
        def evaluate():
            return "ok"

        assert transform(2) == 4 and transform(3) == 6
        assert evaluate() == "ok"
    store = connect(target)
    recorded = [execution(store, key) for key in calls]
    assert [props(e)["param.x"] for e in recorded] == [2, 3]
    assert all(e.last_known_state == STATE.COMPLETE for e in recorded)
    evaluations = store.get_executions_by_type("evaluate")
    assert len(evaluations) == 1 and props(evaluations[0])["run_id"] == run.run_id


def test_a_step_with_a_known_cache_key_is_recorded_cached_with_the_earlier_outputs(target):
    key = unique("fingerprint")
    with mlineage.run(unique("cache"), url=target) as first:
        with first.step("Trainer", cache_key=key) as original:
            assert not original.cached
            model = original.output("Model", "gs://b/cache/model")
    ran = []
    with mlineage.run(unique("cache"), url=target) as second:

        @second.step("Trainer", cache_key=key)
        def train():
            ran.append(True)

        outputs = train()
    assert ran == []
    assert [o.id for o in outputs] == [model.id]
    store = connect(target)
    cached = store.get_executions_by_context(
        store.get_context_by_type_and_name("pipeline_run", second.name).id
    )
    assert [e.last_known_state for e in cached] == [STATE.CACHED]
    assert props(cached[0])["cached_from_execution_id"] == execution(store, original.external_id).id
    outputs_of_cached = [e.artifact_id for e in store.get_events_by_execution_ids([cached[0].id])
                         if e.type == pb.Event.OUTPUT]
    assert outputs_of_cached == [model.id]


def test_output_model_reads_format_size_checksum_and_signature_from_the_files(target):
    with mlineage.run(unique("models"), url=target) as run:
        with run.step("Trainer") as step:
            model = step.output_model(str(MODELS / "saved_model"))
            onnx = step.output_model("gs://b/m.onnx", path=MODELS / "tiny.onnx", key="onnx")
    store = connect(target)
    [saved] = store.get_artifacts_by_external_ids([model.external_id])
    values = props(saved)
    assert values["format"] == "saved_model" and values["framework"] == "tensorflow"
    assert values["signature_names"] == "classify,serving_default"
    assert values["size_bytes"] == sum(p.stat().st_size for p in (MODELS / "saved_model").rglob("*") if p.is_file())
    assert len(values["sha256"]) == 64
    [onnx_artifact] = store.get_artifacts_by_external_ids([onnx.external_id])
    assert props(onnx_artifact)["signature"]["inputs"] == {"X": {"dtype": "float32", "shape": ["batch", 3.0]}}


def test_replaying_the_same_records_stores_each_once(target):
    """What a journal replay does after a crash: the same records, a fresh Applier, nothing duplicated."""
    k = unique("replay")
    p, r, e, a, m = (f"{k}-{x}" for x in "prea" + "m")
    records = [
        ["ctx", p, "pipeline", k, {}, None],
        ["ctx", r, "pipeline_run", f"{k}/1", {"status": "RUNNING"}, p],
        ["exe", e, "Trainer", "RUNNING", {"param.lr": 0.1}, [p, r]],
        ["art", a, "Examples", f"gs://{k}", {"span": 1}, "uri", e, "INPUT", "examples", 0, [r], None],
        ["art", m, "Model", f"gs://{k}/m", {}, "new", e, "OUTPUT", "model", 0, [r], None],
        *[["m", e, "loss", i, i, 1.0 / i, 1000 + i] for i in range(1, 101)],
        ["exe", e, "Trainer", "COMPLETE", {"param.lr": 0.1, "metric.loss": 0.01}, [p, r]],
    ]
    store = connect(target)
    Applier(store).apply(records)
    Applier(store).apply(records)  # a replay by the next process
    Applier(store).apply(records[3:])  # and a partial one
    run_context = store.get_context_by_type_and_name("pipeline_run", f"{k}/1")
    assert [c.name for c in store.get_contexts_by_external_ids([p, r])] == [k, f"{k}/1"]
    [trainer] = store.get_executions_by_context(run_context.id)
    assert trainer.last_known_state == STATE.COMPLETE
    assert sorted(x.external_id for x in store.get_artifacts_by_context(run_context.id)) == sorted([a, m])
    assert len(store.get_events_by_execution_ids([trainer.id])) == 2
    [series] = metric_series(store, [trainer.id])
    assert len(series.seq) == 100


def test_environment_names_the_git_commit_of_the_working_directory(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q"], ["-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty",
                                  "-m", "x"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    monkeypatch.chdir(repo)
    url = f"sqlite:///{tmp_path / 'env.db'}"
    with mlineage.run("env", url=url) as run:
        with run.step("S") as step:
            pass
    values = props(execution(connect(url), step.external_id))
    assert values["git_commit"] == head and values["git_dirty"] is False
