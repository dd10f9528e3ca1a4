"""A Triton config.pbtxt read through Triton's compiled ModelConfig proto (tritonclient, TFX environment) says what the strict reader says.

integrations.serving reads ``config.pbtxt`` with Triton's own ``model_config_pb2`` when tritonclient is
installed (the TFX environment has it, scripts/setup_env.sh) and with integrations.pbtext otherwise (the
main environment). One subprocess in the TFX environment parses a set of real model configs both ways;
the summaries must be equal field for field, carry the config's own numbers, and a push recorded there
must carry them too. Text that is not a model config is refused naming the file by either reader; a
field ModelConfig does not have is refused by the compiled proto (the schema-less reader cannot know).
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from paths import REPO_ROOT
from test_serving import TRITON_CONFIG
from test_tfx_environment import tfx_python

CONFIGS = {
    "resnet_tensorrt": TRITON_CONFIG,
    "onnx_cpu": """
name: "bert"
platform: "onnxruntime_onnx"
max_batch_size: 0
input [ { name: "ids" data_type: TYPE_INT64 dims: [ -1, 128 ] } ]
output [ { name: "logits" data_type: TYPE_FP16 dims: [ -1, 2 ] } ]
instance_group [ { kind: KIND_CPU count: 4 } ]
version_policy: { specific: { versions: [ 1, 3 ] } }
optimization { execution_accelerators { gpu_execution_accelerator : [ { name : "tensorrt" } ] } }
""",
    "python_backend": """
name: "tokenizer"
backend: "python"
max_batch_size: 64
instance_group [ { kind: KIND_GPU } ]
dynamic_batching { }
""",
    "savedmodel_gpu": """
name: "taxi"
platform: "tensorflow_savedmodel"
max_batch_size: 8
instance_group [ { count: 1 kind: KIND_GPU gpus: [ 0 ] } ]
dynamic_batching { max_queue_delay_microseconds: 100 }
""",
}
BAD = {
    "truncated": 'name: "m"\nplatform: "tensorrt_plan"\ninput [ { name: ',
    "no_platform": 'name: "m"\nmax_batch_size: 4\n',
    "string_batch": 'name: "m"\nplatform: "tensorrt_plan"\nmax_batch_size: "eight"\n',
}
UNKNOWN_FIELD = 'name: "m"\nplatform: "tensorrt_plan"\nmax_batch_sizes: 4\n'

SCRIPT = r"""
import json, sys, tempfile
from pathlib import Path
import mlineage
from mlineage import errors
from mlineage.integrations import pbtext, serving

configs, bad, unknown, root = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
out = {"compiled_path": serving._compiled_triton_config(configs["savedmodel_gpu"]) is not None,
       "summaries": {}, "errors": {}}
for name, text in configs.items():
    path = root / f"{name}.pbtxt"
    path.write_text(text)
    out["summaries"][name] = {"compiled": serving.parse_triton_config(path),
                              "strict": serving._triton_summary(pbtext.parse(text))}
for name, text in {**bad, "unknown_field": unknown}.items():
    path = root / f"{name}.pbtxt"
    path.write_text(text)
    try:
        serving.parse_triton_config(path)
        out["errors"][name] = None
    except errors.InvalidArgumentError as exc:
        out["errors"][name] = str(exc)
# A push recorded through the compiled path.
model = root / "repo" / "taxi"
(model / "1" / "model.savedmodel").mkdir(parents=True)
(model / "1" / "model.savedmodel" / "saved_model.pb").write_bytes(b"\x08\x01")
(model / "config.pbtxt").write_text(configs["savedmodel_gpu"])
url = f"sqlite:///{root / 'store.db'}"
with mlineage.run("p", run_id="r", url=url) as run:
    with run.step("TritonPusher") as step:
        deployment = serving.record_push(step, str(model), server="triton", deployment="taxi-triton")
store = mlineage.connect(url)
[pushed] = store.get_artifacts_by_type("PushedModel")
out["pushed"] = {k: getattr(v, v.WhichOneof("value")) for k, v in pushed.custom_properties.items()
                 if v.WhichOneof("value") != "struct_value"}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def parsed(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("triton_proto")
    result = subprocess.run(
        [tfx_python(), "-c", SCRIPT, json.dumps(CONFIGS), json.dumps(BAD), UNKNOWN_FIELD, str(root)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    answer["root"] = str(root)
    return answer


def test_the_compiled_proto_is_what_reads_the_config_there(parsed):
    assert parsed["compiled_path"] is True


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_compiled_proto_and_the_strict_reader_give_the_same_summary(parsed, name):
    both = parsed["summaries"][name]
    assert both["compiled"] == both["strict"]


def test_the_summaries_carry_the_configs_own_numbers(parsed):
    resnet = parsed["summaries"]["resnet_tensorrt"]["compiled"]
    assert resnet["triton_platform"] == "tensorrt_plan" and resnet["max_batch_size"] == 32
    assert resnet["instance_groups"] == [{"kind": "KIND_GPU", "count": 2, "gpus": [0, 1]},
                                         {"kind": "KIND_CPU", "count": 1}]
    assert (resnet["gpu_instances"], resnet["cpu_instances"], resnet["gpus"]) == (4, 1, "0,1")
    assert resnet["dynamic_batching"] == 1 and resnet["preferred_batch_size"] == "8,16"
    assert resnet["max_queue_delay_microseconds"] == 100 and resnet["version_policy"] == "latest"
    assert resnet["inputs"] == [{"name": "input__0", "data_type": "TYPE_FP32", "dims": [3, 224, 224]}]
    onnx = parsed["summaries"]["onnx_cpu"]["compiled"]
    assert (onnx["triton_platform"], onnx["max_batch_size"], onnx["cpu_instances"]) == ("onnxruntime_onnx", 0, 4)
    assert onnx["gpu_instances"] == 0 and onnx["dynamic_batching"] == 0 and onnx["version_policy"] == "specific"
    assert onnx["inputs"][0]["dims"] == [-1, 128] and onnx["outputs"][0]["data_type"] == "TYPE_FP16"
    python = parsed["summaries"]["python_backend"]["compiled"]
    assert python["triton_backend"] == "python" and "triton_platform" not in python
    assert (python["gpu_instances"], python["dynamic_batching"]) == (1, 1)  # KIND_GPU, count defaults to 1


def test_a_push_through_the_compiled_proto_records_the_config(parsed):
    pushed = parsed["pushed"]
    assert (pushed["server"], pushed["model_name"], pushed["pushed_version"]) == ("triton", "taxi", "1")
    assert (pushed["triton_platform"], pushed["max_batch_size"], pushed["gpu_instances"]) == (
        "tensorflow_savedmodel", 8, 1)
    assert pushed["max_queue_delay_microseconds"] == 100 and pushed["gpus"] == "0"


def test_text_that_is_not_a_model_config_is_refused_naming_the_file(parsed):
    root = parsed["root"]
    for name in (*BAD, "unknown_field"):
        message = parsed["errors"][name]
        assert message is not None and message.startswith(f"{root}/{name}.pbtxt is not a Triton model config: ")
    assert "neither a platform nor a backend" in parsed["errors"]["no_platform"]
    assert "max_batch_sizes" in parsed["errors"]["unknown_field"]  # ModelConfig has no such field
