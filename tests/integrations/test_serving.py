"""mlineage.integrations.serving: pushes to TF Serving, Triton and KServe, and metrics scraped from a live endpoint."""

from __future__ import annotations

import http.server
import json
import threading
from contextlib import contextmanager

import pytest

import mlineage
from mlineage import errors
from mlineage.cli import main
from mlineage.integrations import pbtext, serving
from mlineage.proto import metadata_store_pb2 as pb

TRITON_CONFIG = """
# a TensorRT ResNet, two GPUs
name: "resnet50"
platform: "tensorrt_plan"
max_batch_size: 32
input [
  {
    name: "input__0"
    data_type: TYPE_FP32
    format: FORMAT_NCHW
    dims: [ 3, 224, 224 ]
  }
]
output [
  {
    name: "output__0"
    data_type: TYPE_FP32
    dims: [ 1000 ]
    label_filename: "labels.txt"
  }
]
instance_group [
  {
    count: 2
    kind: KIND_GPU
    gpus: [ 0, 1 ]
  },
  { count: 1, kind: KIND_CPU }
]
dynamic_batching {
  preferred_batch_size: [ 8, 16 ]
  max_queue_delay_microseconds: 100
}
version_policy: { latest: { num_versions: 1 } }
parameters: { key: "precision" value: { string_value: "fp16" } }
"""

TRITON_METRICS = """\
# HELP nv_inference_request_success Number of successful inference requests, all batch sizes
# TYPE nv_inference_request_success counter
nv_inference_request_success{model="resnet50",version="2"} 1250
# HELP nv_inference_request_failure Number of failed inference requests, all batch sizes
# TYPE nv_inference_request_failure counter
nv_inference_request_failure{model="resnet50",version="2",reason="BACKEND"} 3
# HELP nv_inference_count Number of inferences performed (does not include cached requests)
# TYPE nv_inference_count counter
nv_inference_count{model="resnet50",version="2"} 9800
# HELP nv_inference_queue_duration_us Cumulative inference queuing duration in microseconds
# TYPE nv_inference_queue_duration_us counter
nv_inference_queue_duration_us{model="resnet50",version="2"} 48210
# HELP nv_inference_compute_infer_duration_us Cumulative compute inference duration in microseconds
# TYPE nv_inference_compute_infer_duration_us counter
nv_inference_compute_infer_duration_us{model="resnet50",version="2"} 913402
# HELP nv_gpu_utilization GPU utilization rate [0.0 - 1.0)
# TYPE nv_gpu_utilization gauge
nv_gpu_utilization{gpu_uuid="GPU-7a1b0c2d-1111-2222-3333-444455556666"} 0.63
# HELP nv_gpu_memory_used_bytes GPU used memory, in bytes
# TYPE nv_gpu_memory_used_bytes gauge
nv_gpu_memory_used_bytes{gpu_uuid="GPU-7a1b0c2d-1111-2222-3333-444455556666"} 4.294967296e+09
# HELP nv_cpu_utilization CPU utilization rate [0.0 - 1.0]
# TYPE nv_cpu_utilization gauge
nv_cpu_utilization 0.12
"""

TF_SERVING_METRICS = """\
# TYPE :tensorflow:serving:request_count counter
:tensorflow:serving:request_count{model_name="taxi",status="OK"} 42
:tensorflow:serving:request_count{model_name="taxi",status="INVALID_ARGUMENT"} 2
# TYPE :tensorflow:serving:request_latency histogram
:tensorflow:serving:request_latency_bucket{model_name="taxi",API="predict",entrypoint="REST",le="10"} 0
:tensorflow:serving:request_latency_bucket{model_name="taxi",API="predict",entrypoint="REST",le="+Inf"} 44
:tensorflow:serving:request_latency_sum{model_name="taxi",API="predict",entrypoint="REST"} 52800
:tensorflow:serving:request_latency_count{model_name="taxi",API="predict",entrypoint="REST"} 44
# TYPE :tensorflow:core:graph_runs counter
:tensorflow:core:graph_runs{} 44
"""


@contextmanager
def metrics_server(payloads: dict[str, str]):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = payloads.get(self.path)
            if body is None:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def triton_repo(tmp_path):
    model = tmp_path / "repo" / "resnet50"
    for version in ("1", "2", "010"):  # Triton ignores "010"
        (model / version).mkdir(parents=True)
        (model / version / "model.plan").write_bytes(b"plan-" + version.encode())
    (model / "config.pbtxt").write_text(TRITON_CONFIG)
    return model


@pytest.fixture
def tf_serving_base(tmp_path):
    base = tmp_path / "models" / "taxi"
    for version in ("1700000000", "1700000500"):
        (base / version / "variables").mkdir(parents=True)
        (base / version / "saved_model.pb").write_bytes(b"\x08\x01")
    (base / "tmp-not-a-version").mkdir()
    return base


def _values(node) -> dict:
    return {k: getattr(v, v.WhichOneof("value")) for k, v in node.custom_properties.items()
            if v.WhichOneof("value") != "struct_value"}


def test_triton_config_is_parsed_by_the_strict_reader():
    message = pbtext.parse(TRITON_CONFIG)
    assert pbtext.first(message, "platform") == "tensorrt_plan"
    assert message["input"][0]["dims"] == [3, 224, 224]
    assert message["instance_group"][1] == {"count": [1], "kind": ["KIND_CPU"]}
    assert message["parameters"][0]["value"][0] == {"string_value": ["fp16"]}
    assert pbtext.parse('a: "x" \'y\' b: -1.5e3 c: 0x10 d: true e <f: inf>') == {
        "a": ["xy"], "b": [-1500.0], "c": [16], "d": [True], "e": [{"f": [float("inf")]}]}


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('name: "resnet\n', "line 1, column 7"),
        ("instance_group [ { count: 2 }\n", "line 2, column 1"),
        ("max_batch_size 8", "line 1, column 16"),
        ("dims: [ 3, 224 224 ]", "line 1, column 16"),
        ("input { name: 'a' } }", "line 1, column 21"),
        ("platform: @", "line 1, column 11"),
    ],
)
def test_bad_text_is_refused_with_its_line_and_column(text, where):
    with pytest.raises(pbtext.PbtextError, match=where):
        pbtext.parse(text)


def test_triton_push_records_pushed_model_deployment_and_config(tmp_path, triton_repo):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    with mlineage.run("vision", run_id="r1", url=url) as run:
        with run.step("Trainer") as step:
            model = step.output_model(str(tmp_path / "model"), framework="tensorflow", inspect_files=False)
        with run.step("Pusher") as step:
            deployed = serving.record_push(step, triton_repo, model=model, deployment="resnet-prod",
                                           endpoint="http://triton:8002/metrics")
    store = mlineage.connect(url)
    [pushed] = store.get_artifacts_by_type("PushedModel")
    props = _values(pushed)
    assert pushed.uri == str(triton_repo / "2")
    assert props["pushed"] == 1 and props["pushed_version"] == "2"
    assert props["pushed_destination"] == str(triton_repo / "2")
    assert props["available_versions"] == "1,2"
    assert props["server"] == "triton" and props["model_name"] == "resnet50"
    assert props["triton_platform"] == "tensorrt_plan"
    assert props["max_batch_size"] == 32
    assert props["gpu_instances"] == 4 and props["cpu_instances"] == 1 and props["gpus"] == "0,1"
    assert props["dynamic_batching"] == 1 and props["preferred_batch_size"] == "8,16"
    assert props["max_queue_delay_microseconds"] == 100
    groups = pushed.custom_properties["instance_groups"].struct_value["value"]
    assert [dict(g) for g in groups][0] == {"kind": "KIND_GPU", "count": 2.0, "gpus": [0.0, 1.0]}
    assert store.get_artifact_type("PushedModel").base_type == pb.ArtifactType.MODEL
    context = store.get_context_by_type_and_name("deployment", "resnet-prod")
    assert _values(context)["model_version"] == "2"
    [serving_execution] = store.get_executions_by_context(context.id)
    assert serving_execution.external_id == deployed.serving_key
    events = store.get_events_by_execution_ids([serving_execution.id])
    assert [(e.type, e.artifact_id) for e in events] == [(pb.Event.INPUT, pushed.id)]
    assert [a.id for a in store.get_artifacts_by_context(context.id)] == [pushed.id]
    pusher = store.get_execution_by_type_and_name("Pusher", "vision/r1/Pusher")
    pusher_events = {(e.type, e.artifact_id) for e in store.get_events_by_execution_ids([pusher.id])}
    [model_artifact] = store.get_artifacts_by_type("Model")
    assert pusher_events == {(pb.Event.INPUT, model_artifact.id), (pb.Event.OUTPUT, pushed.id)}


def test_tf_serving_and_kserve_pushes(tmp_path, tf_serving_base):
    manifest = tmp_path / "isvc.yaml"
    manifest.write_text(
        "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: taxi-kserve\n"
        "  namespace: ml\nspec:\n  predictor:\n    minReplicas: 1\n    model:\n      modelFormat:\n"
        "        name: tensorflow\n      runtime: kserve-tensorflow-serving\n"
        "      storageUri: gs://bucket/models/taxi/1700000500\n      resources:\n        limits:\n"
        "          nvidia.com/gpu: 1\n")
    url = f"sqlite:///{tmp_path / 'm.db'}"
    with mlineage.run("taxi", run_id="r1", url=url) as run:
        with run.step("Pusher") as step:
            serving.record_push(step, tf_serving_base)
            serving.record_push(step, manifest)
    store = mlineage.connect(url)
    pushed = {a.uri: _values(a) for a in store.get_artifacts_by_type("PushedModel")}
    tf = pushed[str(tf_serving_base / "1700000500")]
    assert tf["server"] == "tf_serving" and tf["pushed_version"] == "1700000500"
    assert tf["available_versions"] == "1700000000,1700000500" and tf["model_name"] == "taxi"
    kserve = pushed["gs://bucket/models/taxi/1700000500"]
    assert kserve["server"] == "kserve" and kserve["runtime"] == "kserve-tensorflow-serving"
    assert kserve["model_format"] == "tensorflow" and kserve["gpus_per_replica"] == 1
    assert kserve["pushed_version"] == "1700000500"
    assert store.get_context_by_type_and_name("deployment", "taxi-kserve") is not None


@pytest.mark.parametrize("case", ["corrupt_config", "no_versions", "not_saved_model", "kserve_kind"])
def test_bad_push_is_one_error_naming_the_file_and_records_nothing(tmp_path, triton_repo, case):
    target = triton_repo
    if case == "corrupt_config":
        (triton_repo / "config.pbtxt").write_text('name: "resnet50"\nplatform: "tensorrt_plan"\ninput [ { name: ')
        expected = f"{triton_repo / 'config.pbtxt'} is not a Triton model config: line 3, column 17"
    elif case == "no_versions":
        for version in ("1", "2"):
            (triton_repo / version / "model.plan").unlink()
            (triton_repo / version).rmdir()
        expected = f"{triton_repo} is not a Triton model directory: no numbered version"
    elif case == "not_saved_model":
        target = tmp_path / "base"
        (target / "3").mkdir(parents=True)
        expected = f"{target / '3'} is not a SavedModel"
    else:
        target = tmp_path / "x.json"
        target.write_text(json.dumps({"kind": "Deployment"}))
        expected = f"{target} is not a KServe InferenceService"
    url = f"sqlite:///{tmp_path / 'm.db'}"
    with mlineage.run("p", run_id="r", url=url) as run:
        with run.step("Pusher") as step:
            with pytest.raises(errors.InvalidArgumentError) as info:
                serving.record_push(step, target)
    assert str(info.value).startswith(expected)
    store = mlineage.connect(url)
    assert store.get_artifacts() == []
    assert store.get_contexts_by_type("deployment") == []


def test_scrapes_of_triton_and_tf_serving_become_series_per_model_version(tmp_path, triton_repo, tf_serving_base):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    with mlineage.run("p", run_id="r", url=url) as run:
        with run.step("Pusher") as step:
            serving.record_push(step, triton_repo, deployment="vision")
            serving.record_push(step, tf_serving_base, deployment="taxi")
    store = mlineage.connect(url)
    with metrics_server({"/metrics": TRITON_METRICS, "/monitoring/prometheus/metrics": TF_SERVING_METRICS}) as base:
        triton = serving.scrape(f"{base}/metrics")
        assert serving.record_scrape(store, "vision", triton) == 8
        assert serving.record_scrape(store, "vision", triton) == 0  # the same scrape again stores nothing
        tfs = serving.scrape(f"{base}/monitoring/prometheus/metrics")
        assert serving.record_scrape(store, "taxi", tfs) == 4
    vision = store.get_executions_by_external_ids([serving.serving_key("vision")])[0]
    series = {s.name: (list(s.value), list(s.timestamp_ms)) for s in store.get_metric_series([vision.id])}
    gpu = "gpu/GPU-7a1b0c2d-1111-2222-3333-444455556666"
    assert {name: values for name, (values, _) in series.items()} == {
        "resnet50/2/nv_inference_request_success": [1250.0],
        "resnet50/2/nv_inference_request_failure[reason=BACKEND]": [3.0],
        "resnet50/2/nv_inference_count": [9800.0],
        "resnet50/2/nv_inference_queue_duration_us": [48210.0],
        "resnet50/2/nv_inference_compute_infer_duration_us": [913402.0],
        f"{gpu}/nv_gpu_utilization": [0.63],
        f"{gpu}/nv_gpu_memory_used_bytes": [4294967296.0],
        "server/nv_cpu_utilization": [0.12],
    }
    assert {stamps[0] for _, stamps in series.values()} == {triton.timestamp_ms}
    taxi = store.get_executions_by_external_ids([serving.serving_key("taxi")])[0]
    names = {s.name: list(s.value) for s in store.get_metric_series([taxi.id])}
    assert names == {  # TF Serving has no version label: the deployment's pushed version is used
        "taxi/1700000500/tensorflow:serving:request_count[status=OK]": [42.0],
        "taxi/1700000500/tensorflow:serving:request_count[status=INVALID_ARGUMENT]": [2.0],
        "taxi/1700000500/tensorflow:serving:request_latency_sum[API=predict,entrypoint=REST]": [52800.0],
        "taxi/1700000500/tensorflow:serving:request_latency_count[API=predict,entrypoint=REST]": [44.0],
    }


def test_serving_watch_command_scrapes_every_interval(tmp_path, triton_repo, capsys):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    with mlineage.run("p", run_id="r", url=url) as run:
        with run.step("Pusher") as step:
            serving.record_push(step, triton_repo, deployment="vision")
    with metrics_server({"/metrics": TRITON_METRICS}) as base:
        code = main(["serving", "watch", "--endpoint", f"{base}/metrics", "--deployment", "vision",
                     "--every", "20ms", "--count", "3", "--db", url])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all("8 points stored" in line for line in lines)
    store = mlineage.connect(url)
    vision = store.get_executions_by_external_ids([serving.serving_key("vision")])[0]
    [success] = store.get_metric_series([vision.id], ["resnet50/2/nv_inference_request_success"])
    assert len(success.value) == 3 and list(success.timestamp_ms) == sorted(success.timestamp_ms)


def test_unreachable_endpoint_and_unknown_deployment_are_clear_errors(tmp_path, triton_repo, capsys):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    with mlineage.run("p", run_id="r", url=url) as run:
        with run.step("Pusher") as step:
            serving.record_push(step, triton_repo, deployment="vision")
    dead = "http://127.0.0.1:9/metrics"
    with pytest.raises(errors.UnavailableError, match="no metrics at http://127.0.0.1:9/metrics"):
        serving.scrape(dead, timeout=2)
    assert main(["serving", "watch", "--endpoint", dead, "--deployment", "vision", "--count", "1",
                 "--db", url]) == 2
    assert "error: no metrics at http://127.0.0.1:9/metrics" in capsys.readouterr().err
    assert main(["serving", "watch", "--endpoint", dead, "--deployment", "nope", "--count", "1",
                 "--db", url]) == 2
    assert "no deployment named 'nope'" in capsys.readouterr().err
    with metrics_server({}) as base:
        with pytest.raises(errors.UnavailableError, match=f"{base}/metrics answered HTTP 404"):
            serving.scrape(f"{base}/metrics")
    store = mlineage.connect(url)
    vision = store.get_executions_by_external_ids([serving.serving_key("vision")])[0]
    assert store.get_metric_series([vision.id]) == []
    assert serving.parse_interval("30s") == 30 and serving.parse_interval("2m") == 120
    with pytest.raises(errors.InvalidArgumentError):
        serving.parse_interval("soon")
