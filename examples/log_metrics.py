"""Log a training loop's metrics as one step of a run, through a server, and print the step's execution id.

    python examples/log_metrics.py grpc://localhost:8080
"""

import sys

import mlineage

url = sys.argv[1] if len(sys.argv) > 1 else "grpc://localhost:8080"
with mlineage.run("taxi", run_id="2026-11-29-metrics", url=url) as run:
    with run.step("Trainer") as step:
        for n in range(1, 6):
            step.log_metric("loss", round(1.0 / n, 3), step=n * 100)
            step.log_metric("accuracy", round(0.70 + n / 50, 3), step=n * 100)
print(step.id)
