"""Make the model fixtures beside this file with the real frameworks (not run by the tests).

    python -m venv /tmp/tfgen && /tmp/tfgen/bin/pip install tensorflow-cpu==2.16.2
    /tmp/tfgen/bin/python tests/data/models/make_models.py saved_model keras
    python -m venv /tmp/onnxgen && /tmp/onnxgen/bin/pip install onnx   # (its ml_dtypes clashes with TF's)
    /tmp/onnxgen/bin/python tests/data/models/make_models.py onnx

Writes: saved_model/ (tf.saved_model.save of a module with two signatures),
tiny.keras and tiny.h5 (Keras 3), tiny.onnx (onnx.helper, with an initializer).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent


def saved_model() -> None:
    import tensorflow as tf

    class Scorer(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable([[0.5], [-1.0], [2.0]], name="w")

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="features")])
        def score(self, features):
            return {"scores": tf.matmul(features, self.w)}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples"),
                                      tf.TensorSpec([], tf.int64, name="top_k")])
        def classify(self, examples, top_k):
            return {"classes": tf.strings.substr(examples, 0, 1), "k": top_k + 0}

    module = Scorer()
    target = HERE / "saved_model"
    shutil.rmtree(target, ignore_errors=True)
    tf.saved_model.save(module, str(target), signatures={"serving_default": module.score,
                                                         "classify": module.classify})


def keras_files() -> None:
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="dense")])
    model.save(HERE / "tiny.keras")
    model.save(HERE / "tiny.h5")


def onnx_file() -> None:
    import onnx
    from onnx import TensorProto, helper

    weight = helper.make_tensor("W", TensorProto.FLOAT, [3, 2], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])],
        "tiny",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", 2])],
        initializer=[weight],
    )
    model = helper.make_model(graph, producer_name="mlineage-tests", opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, HERE / "tiny.onnx")


if __name__ == "__main__":
    import sys

    makers = {"saved_model": saved_model, "keras": keras_files, "onnx": onnx_file}
    for name in sys.argv[1:] or makers:
        makers[name]()
