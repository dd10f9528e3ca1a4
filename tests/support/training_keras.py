"""Runs inside the TFX environment for tests/integrations/test_training_keras.py: a tiny Keras model trained with
MlineageCallback.

First checks that importing mlineage.integrations.training loads no Keras or TensorFlow. Then a
Transform step records the examples it read and the transform graph it wrote; a Trainer step fits a
two-layer model for three epochs with the callback (exporting a SavedModel at the end), a second one
saves a ``.keras`` file. Prints one JSON line: Keras' History beside what the store holds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HEAVY = ("tensorflow", "keras", "tf_keras")


def main(workdir: str) -> None:
    import mlineage
    import mlineage.integrations.training as training

    imported_heavy = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)

    import keras
    import numpy as np

    from mlineage.client.records import from_value
    from mlineage.proto import metadata_store_pb2 as pb

    root = Path(workdir)
    rng = np.random.default_rng(11)
    x = rng.normal(size=(240, 4)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("float32")
    keras.utils.set_random_seed(3)

    def tiny_model():
        model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy",
                      metrics=["accuracy"])
        return model

    url = f"sqlite:///{root / 'mlineage.db'}"
    with mlineage.run("taxi", run_id="keras-1", url=url) as run:
        with run.step("Transform") as step:
            examples = step.input("Examples", uri=str(root / "examples"), span=2)
            graph = step.output("TransformGraph", uri=str(root / "transform_graph"))
        with run.step("Trainer") as step:
            callback = training.MlineageCallback(step, inputs=[graph, examples], model_path=str(root / "model"),
                                                 params={"batch_size": 32})
            history = tiny_model().fit(x, y, epochs=3, batch_size=32, validation_split=0.25, verbose=0,
                                       callbacks=[callback])
            trainer_key = step.external_id
        with run.step("TrainerKerasFile") as step:
            file_callback = training.MlineageCallback(step, model_path=str(root / "model.keras"))
            tiny_model().fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[file_callback])

    store = mlineage.connect(url)
    [trainer] = store.get_executions_by_external_ids([trainer_key])
    series = {s.name: {"step": list(s.step), "value": list(s.value)} for s in store.get_metric_series([trainer.id])}
    types = {t.id: t.name for t in store.get_artifact_types()}
    events = store.get_events_by_execution_ids([trainer.id])
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}

    def values(node) -> dict:
        out = {k: from_value(v) for k, v in node.custom_properties.items()}
        out.update({k: from_value(v) for k, v in node.properties.items()})
        return out

    links = [[pb.Event.Type.Name(e.type), e.path.steps[0].key, types[artifacts[e.artifact_id].type_id],
              artifacts[e.artifact_id].external_id] for e in events]
    models = {a.uri: values(a) for a in store.get_artifacts_by_type("Model")}
    print(json.dumps({
        "imported_heavy": imported_heavy,
        "keras": keras.__version__,
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "series": series,
        "params": {k: v for k, v in values(trainer).items() if k.startswith(("param.", "metric."))},
        "state": pb.Execution.State.Name(trainer.last_known_state),
        "links": sorted(links),
        "upstream": {"examples": examples.key, "transform_graph": graph.key},
        "models": models,
        "is_callback": isinstance(callback, keras.callbacks.Callback),
        "model_dir": sorted(p.name for p in (root / "model").iterdir()),
    }, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
