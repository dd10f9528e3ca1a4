"""Three runs logged by the real ``mlflow`` client to a tracking server (run under the mlflow venv).

    python tests/reports/mlflow_runs.py --tracking-uri http://HOST:PORT

Experiment ``churn-mlflow``; runs ``depth-4``, ``depth-8``, ``depth-16`` with params
``max_depth`` and ``criterion``, and ``f1`` logged at steps 0, 1, 2. Prints
{"runs": [run ids in logging order]} as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys

F1 = {4: [0.60, 0.66, 0.70], 8: [0.62, 0.71, 0.78], 16: [0.65, 0.74, 0.76]}


def main(argv: list[str]) -> int:
    import mlflow

    parser = argparse.ArgumentParser()
    parser.add_argument("--tracking-uri", required=True)
    args = parser.parse_args(argv)
    client = mlflow.MlflowClient(args.tracking_uri)
    experiment = client.create_experiment("churn-mlflow")
    ids = []
    for depth, values in F1.items():
        run = client.create_run(experiment, run_name=f"depth-{depth}")
        client.log_param(run.info.run_id, "max_depth", depth)
        client.log_param(run.info.run_id, "criterion", "gini")
        for step, value in enumerate(values):
            client.log_metric(run.info.run_id, "f1", value, step=step)
        client.set_terminated(run.info.run_id)
        ids.append(run.info.run_id)
    print(json.dumps({"runs": ids}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
