"""Model files: format, framework, size, checksum and signature, read from real framework outputs.

tests/data/models holds a SavedModel written by tf.saved_model.save (TF 2.16.2), Keras 3 .keras and .h5
files and an ONNX model from onnx.helper (see make_models.py there); the signatures below are the ones
TensorFlow itself reads from that saved_model.pb.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile

from paths import DATA

from mlineage.integrations.models import checksum, describe_model, onnx_signature, saved_model_signature

MODELS = DATA / "models"


def test_saved_model_signatures_are_read_without_tensorflow():
    signature = saved_model_signature(MODELS / "saved_model" / "saved_model.pb")
    assert signature["tags"] == ["serve"] and signature["tensorflow_version"] == "2.16.2"
    assert set(signature["signatures"]) == {"serving_default", "classify"}  # not __saved_model_init_op
    serving = signature["signatures"]["serving_default"]
    assert serving["method"] == "tensorflow/serving/predict"
    assert serving["inputs"]["features"]["dtype"] == "float32"
    assert serving["inputs"]["features"]["shape"] == [-1, 3]
    assert serving["outputs"]["scores"]["shape"] == [-1, 1]
    classify = signature["signatures"]["classify"]
    assert {name: info["dtype"] for name, info in classify["inputs"].items()} == {"examples": "string",
                                                                                  "top_k": "int64"}
    assert classify["inputs"]["top_k"]["shape"] == []


def test_saved_model_directory_is_described_with_a_tree_checksum():
    description = describe_model(MODELS / "saved_model")
    assert (description.format, description.framework) == ("saved_model", "tensorflow")
    files = sorted(p for p in (MODELS / "saved_model").rglob("*") if p.is_file())
    assert description.file_count == len(files) == 4
    assert description.size_bytes == sum(p.stat().st_size for p in files)
    assert description.properties()["signature_names"] == "classify,serving_default"
    assert checksum(MODELS / "saved_model")[0] == description.sha256


def test_single_files_checksum_is_plain_sha256_of_the_file():
    digest = hashlib.sha256((MODELS / "tiny.keras").read_bytes()).hexdigest()
    assert describe_model(MODELS / "tiny.keras").sha256 == digest


def test_keras_formats():
    assert (describe_model(MODELS / "tiny.keras").format, describe_model(MODELS / "tiny.keras").framework) == (
        "keras", "keras")
    assert describe_model(MODELS / "tiny.h5").format == "keras_h5"


def test_onnx_inputs_exclude_initializers():
    signature = onnx_signature(MODELS / "tiny.onnx")
    assert signature["inputs"] == {"X": {"dtype": "float32", "shape": ["batch", 3]}}
    assert signature["outputs"] == {"Y": {"dtype": "float32", "shape": ["batch", 2]}}
    assert signature["opsets"] == {"ai.onnx": 17} and signature["producer_name"] == "mlineage-tests"
    assert describe_model(MODELS / "tiny.onnx").format == "onnx"


def test_torchscript_tensorrt_safetensors_and_triton_layouts(tmp_path):
    # TorchScript archives (torch.jit.save) hold <name>/code/ and constants.pkl; torch.save zips hold data.pkl only.
    with zipfile.ZipFile(tmp_path / "model.pt", "w") as archive:
        archive.writestr("model/data.pkl", b"\x80\x02}q\x00.")
        archive.writestr("model/code/__torch__/model.py", "def forward(self, x): return x\n")
        archive.writestr("model/constants.pkl", b"\x80\x02).")
    assert (describe_model(tmp_path / "model.pt").format, describe_model(tmp_path / "model.pt").framework) == (
        "torchscript", "pytorch")
    with zipfile.ZipFile(tmp_path / "weights.pth", "w") as archive:
        archive.writestr("weights/data.pkl", b"\x80\x02}q\x00.")
    assert describe_model(tmp_path / "weights.pth").format == "pytorch_state_dict"
    (tmp_path / "model.plan").write_bytes(b"ftrt\x00\x00\x00\x00")
    assert describe_model(tmp_path / "model.plan").format == "tensorrt_plan"
    header = json.dumps({"w": {"dtype": "F32", "shape": [3, 2], "data_offsets": [0, 24]},
                         "__metadata__": {"format": "pt"}}).encode()
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 24)
    described = describe_model(tmp_path / "model.safetensors")
    assert described.format == "safetensors" and described.signature["parameter_count"] == 6
    repository = tmp_path / "triton" / "scorer"
    (repository / "1").mkdir(parents=True)
    (repository / "1" / "model.onnx").write_bytes((MODELS / "tiny.onnx").read_bytes())
    (repository / "config.pbtxt").write_text('name: "scorer"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 8\n')
    triton = describe_model(repository)
    assert (triton.format, triton.framework) == ("triton_model", "onnx")
    assert triton.extra == {"triton_versions": [1], "triton_platform": "onnx"}
