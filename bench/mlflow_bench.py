"""The real mlflow client's logging workload against MLflow's own server and against mlineage serve, in one run.

Both servers run locally on a fresh SQLite file: `mlflow server --backend-store-uri
sqlite:///… --workers 1` (the anchor; one process, as `mlineage serve`) and `mlineage
serve --db sqlite:///…`. The same client code — the unmodified `mlflow` package's
`MlflowClient`, in its own environment — logs N runs (default 200) with P params and M
metrics each (default 10 and 10) to one experiment of each server, two ways:

* one by one: `create_run`, P × `log_param`, M × `log_metric`, `set_terminated`
  (P + M + 2 requests a run: what a script calling `mlflow.log_param` does);
* batched: `create_run`, one `log_batch` (P params, M metrics), `set_terminated`
  (three requests a run: what `mlflow.log_params`/`log_metrics` and autologging do).

Every run is read back at the end through `search_runs` (paged) and its params and
metrics counted, so a server that loses data cannot look fast. The client process
runs one workload against one server at a time, alternating servers. Printed: runs/s
per server and mode, and mlineage's runs/s over MLflow's (the ratio). Goal (issue 14):
mlineage at least as fast as MLflow in both modes.

    .venv/bin/python bench/mlflow_bench.py                       # 200 runs, 10 params, 10 metrics
    .venv/bin/python bench/mlflow_bench.py --runs 50 --rounds 1  # a quick look

MLflow runs from `.venvs/mlflow` (made by bench/rest_bench.py's helper on first use;
`--mlflow-python` picks another). Results: a table and bench/results/mlflow_bench.json.
Exit status: 0 the goal is met, 1 it is not, 2 a server or the client failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUTPUT = BENCH_DIR / "results" / "mlflow_bench.json"
MODES = ("one_by_one", "batch")
GOAL = 1.0


# --- the client side (runs in the mlflow environment: `python mlflow_bench.py --client …`) ---------


def client_workload(tracking_uri: str, mode: str, runs: int, params: int, metrics: int, tag: str) -> dict[str, Any]:
    """Log ``runs`` runs with the real MlflowClient; time it, then read every run back and count."""
    import mlflow
    from mlflow.entities import Metric, Param

    client = mlflow.MlflowClient(tracking_uri)
    experiment_id = client.create_experiment(f"bench-{mode}-{tag}")
    started = time.perf_counter()
    for number in range(runs):
        run_id = client.create_run(experiment_id).info.run_id
        values = {f"param_{i}": f"{(number * 7 + i) % 97 / 1000:.3f}" for i in range(params)}
        scores = {f"metric_{i}": (number * 13 + i) % 101 / 100 for i in range(metrics)}
        if mode == "batch":
            stamp = int(time.time() * 1000)
            client.log_batch(
                run_id,
                metrics=[Metric(k, v, stamp, 0) for k, v in scores.items()],
                params=[Param(k, v) for k, v in values.items()],
            )
        else:
            for key, value in values.items():
                client.log_param(run_id, key, value)
            for key, score in scores.items():
                client.log_metric(run_id, key, score, step=0)
        client.set_terminated(run_id)
    elapsed = time.perf_counter() - started
    seen = logged_params = logged_metrics = 0
    token = None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        for run in page:
            seen += 1
            logged_params += len(run.data.params)
            logged_metrics += len(run.data.metrics)
            if run.info.status != "FINISHED":
                raise AssertionError(f"run {run.info.run_id} is {run.info.status}, not FINISHED")
        token = page.token
        if not token:
            break
    if (seen, logged_params, logged_metrics) != (runs, runs * params, runs * metrics):
        raise AssertionError(f"read back {seen} runs, {logged_params} params, {logged_metrics} metrics; "
                             f"logged {runs}, {runs * params}, {runs * metrics}")
    return {"seconds": elapsed, "runs_per_s": runs / elapsed, "requests_per_run": 3 if mode == "batch" else params + metrics + 2}


# --- the driver --------------------------------------------------------------------------------


def _servers(mlflow_python: str, workdir: Path, mlflow_workers: int) -> dict[str, Any]:
    sys.path.insert(0, str(BENCH_DIR))
    from rest_bench import start_mlflow, start_mlineage

    started: dict[str, Any] = {}
    try:
        started["mlflow"] = start_mlflow(mlflow_python, workdir, mlflow_workers)
        started["mlineage"] = start_mlineage(workdir)
    except Exception:
        for server in started.values():
            server.stop()
        raise
    return started


def _run_client(mlflow_python: str, url: str, mode: str, args: argparse.Namespace, tag: str) -> dict[str, Any]:
    command = [mlflow_python, str(Path(__file__).resolve()), "--client", url, "--mode", mode,
               "--runs", str(args.runs), "--params", str(args.params), "--metrics", str(args.metrics), "--tag", tag]
    env = {**os.environ, "MLFLOW_ENABLE_ASYNC_LOGGING": "false", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(command, capture_output=True, text=True, cwd=tempfile.gettempdir(), env=env, timeout=3600)
    if done.returncode:
        raise RuntimeError(f"the mlflow client failed against {url} ({mode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--params", type=int, default=10)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="rounds per server and mode; the median is kept")
    parser.add_argument("--mlflow-python", help="interpreter of a venv with mlflow (default .venvs/mlflow)")
    parser.add_argument("--mlflow-workers", type=int, default=1, help="MLflow server worker processes (default 1)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="0", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.client:
        print(json.dumps(client_workload(args.client, args.mode, args.runs, args.params, args.metrics, args.tag)))
        return 0

    sys.path.insert(0, str(BENCH_DIR))
    from rest_bench import ensure_mlflow

    try:
        mlflow_python = ensure_mlflow(args.mlflow_python)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"error: MLflow is not available: {exc}", file=sys.stderr)
        return 2
    mlflow_version = subprocess.run(
        [mlflow_python, "-c", "import mlflow; print(mlflow.__version__)"], capture_output=True, text=True,
        cwd=tempfile.gettempdir(),
    ).stdout.strip()
    workdir = Path(tempfile.mkdtemp(prefix="mlflow_bench_"))
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {name: {m: [] for m in MODES} for name in ("mlflow", "mlineage")}
    servers: dict[str, Any] = {}
    try:
        servers = _servers(mlflow_python, workdir, args.mlflow_workers)
        for round_number in range(args.rounds):
            for mode in MODES:
                for name in ("mlflow", "mlineage"):
                    print(f"round {round_number + 1}: {name}, {mode}: {args.runs} runs ...", flush=True)
                    samples[name][mode].append(
                        _run_client(mlflow_python, servers[name].url, mode, args, f"{round_number}")
                    )
    except Exception as exc:  # noqa: BLE001 - say which part failed, with the servers' last lines
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        for server in servers.values():
            print(f"--- {server.name} log tail ---\n{server.tail()}", file=sys.stderr)
        return 2
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    median = {name: {mode: statistics.median(s["runs_per_s"] for s in samples[name][mode]) for mode in MODES}
              for name in samples}
    ratios = {mode: median["mlineage"][mode] / median["mlflow"][mode] for mode in MODES}
    print()
    print(f"{'mode':<12} {'requests/run':>12} {'MLflow runs/s':>14} {'mlineage runs/s':>16} {'ratio':>7}")
    for mode in MODES:
        per_run = samples["mlflow"][mode][0]["requests_per_run"]
        print(f"{mode:<12} {per_run:>12} {median['mlflow'][mode]:>14.1f} {median['mlineage'][mode]:>16.1f} "
              f"{ratios[mode]:>6.2f}x")
    passed = all(ratio >= GOAL for ratio in ratios.values())
    print(f"\nmlineage / MLflow (mlflow {mlflow_version} client, SQLite, {args.runs} runs x {args.params} params x "
          f"{args.metrics} metrics, median of {args.rounds}): "
          + ", ".join(f"{mode} {ratios[mode]:.2f}x" for mode in MODES)
          + f" (goal >= {GOAL}x): {'PASS' if passed else 'FAIL'}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "runs": args.runs, "params": args.params, "metrics": args.metrics, "rounds": args.rounds,
        "mlflow_version": mlflow_version, "python": platform.python_version(), "machine": platform.machine(),
        "cpus": os.cpu_count(), "mlflow_workers": args.mlflow_workers, "samples": samples, "median_runs_per_s": median,
        "ratios": ratios, "goal": GOAL, "passed": passed,
    }, indent=2) + "\n")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
