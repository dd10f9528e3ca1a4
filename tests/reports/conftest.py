"""Stores holding real-looking runs for the comparison tests, written through the step client.

``taxi_runs(store)`` records three runs of pipeline ``taxi``:

| run     | lr   | batch | examples span | accuracy (final) | loss (final) | auc (ModelEvaluation) | commit |
|---------|------|-------|---------------|------------------|--------------|-----------------------|--------|
| taxi/r1 | 0.1  | 256   | 3             | 0.7              | 0.4          | 0.80                  | c0ffee1 |
| taxi/r2 | 0.01 | 256   | 4             | 0.8              | 0.3          | 0.85                  | c0ffee2 |
| taxi/r3 | 0.01 | 512   | 4 (the same)  | 0.8 (a tie)      | NaN          | none (no Evaluator)   | c0ffee2 |

r3 also logs ``diverged`` = NaN only, and its Trainer asked for one GPU.
"""

from __future__ import annotations

import math
import time

import pytest

import mlineage

ACCURACY = {"r1": [0.5, 0.6, 0.7], "r2": [0.6, 0.7, 0.8], "r3": [0.6, 0.75, 0.8]}
LOSS = {"r1": [0.9, 0.6, 0.4], "r2": [0.8, 0.5, 0.3], "r3": [0.7, 0.5, math.nan]}
PARAMS = {"r1": (0.1, 256), "r2": (0.01, 256), "r3": (0.01, 512)}
SPAN = {"r1": 3, "r2": 4, "r3": 4}
AUC = {"r1": 0.80, "r2": 0.85}
COMMIT = {"r1": "c0ffee1", "r2": "c0ffee2", "r3": "c0ffee2"}


def record_taxi_run(store, run_id: str) -> None:
    lr, batch = PARAMS[run_id]
    with mlineage.run("taxi", run_id=run_id, store=store, properties={"git_commit": COMMIT[run_id]}) as run:
        with run.step("Ingest") as step:
            step.input("Examples", uri=f"/data/taxi/span-{SPAN[run_id]}", span=SPAN[run_id])
        with run.step("Trainer", gpus=1 if run_id == "r3" else None) as step:
            step.input("Examples", uri=f"/data/taxi/span-{SPAN[run_id]}", span=SPAN[run_id])
            step.log_params(learning_rate=lr, batch_size=batch, optimizer="adam")
            for index, (accuracy, loss) in enumerate(zip(ACCURACY[run_id], LOSS[run_id], strict=True)):
                step.log_metric("accuracy", accuracy, step=(index + 1) * 100)
                step.log_metric("loss", loss, step=(index + 1) * 100)
            if run_id == "r3":
                step.log_metric("diverged", math.nan)
            model = step.output_model(f"/models/taxi/{run_id}", framework="tensorflow", format="saved_model",
                                      inspect_files=False)
        if run_id in AUC:
            with run.step("Evaluator") as step:
                step.input("Model", uri=model.uri)
                step.output("ModelEvaluation", f"/eval/taxi/{run_id}", auc=AUC[run_id],
                            example_count=1000, metric_names="auc,example_count", num_slices=1)
    time.sleep(0.002)  # distinct creation times: "the last N" is by creation


@pytest.fixture
def taxi_store(store):
    for run_id in ("r1", "r2", "r3"):
        record_taxi_run(store, run_id)
    return store
