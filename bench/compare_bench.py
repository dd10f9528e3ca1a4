"""Run comparison at scale: mlineage's compare() frames and HTML report vs MLflow's search_runs + get_metric_history.

The same data goes into both stores, each a fresh SQLite file: R runs (default
200) of one pipeline / experiment, each with P params (50) and M metrics (50)
of N points (1,000) each: 10 million points at the defaults.

* mlineage (embedded ``Store``): a ``pipeline`` context, R ``pipeline_run``
  contexts under it, one Trainer execution per run with ``param.<name>``
  custom properties, its metric series (``put_metric_series``) and, as the
  step client records a step, each metric's last value as ``metric.<name>``.
  Measured: ``compare(store, pipeline=…)`` (params, final metrics, steps,
  inputs/outputs, GPUs, environment), then ``comparison.best_metrics`` (min
  and max over every point, summarized in the database), then
  ``comparison.series`` (all points, long form), then the HTML report
  (``render(…, "html", metric=…)``), each in a fresh store.
* MLflow (anchor, ``.venvs/mlflow``, in-process ``MlflowClient`` on
  ``sqlite:///…``): an experiment, R runs with P params (``log_batch``) and
  their metric points. Points are loaded with SQL inserts into MLflow's own
  ``metrics`` and ``latest_metrics`` tables (10 million ``log_batch`` rows
  through the client would take hours; what is measured is reading them).
  Measured: ``mlflow.search_runs`` (a pandas frame of params and latest
  metrics: the compare view's table), then ``get_metric_history`` for every
  run and metric (the compare view's charts).

Printed: seconds per phase and mlineage's time over MLflow's (ratio < 1: mlineage
is faster). Goals (issue 15): frames < 2 s, HTML < 10 s at the defaults.

    .venv/bin/python bench/compare_bench.py                                  # 200 × 50 × 50 × 1,000
    .venv/bin/python bench/compare_bench.py --runs 20 --points 100           # a quick look

Results: a table and bench/results/compare_bench.json. Exit status 0 when the
goals are met, 1 when not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_OUTPUT = BENCH_DIR / "results" / "compare_bench.json"
DEFAULT_MLFLOW_PYTHON = REPO_ROOT / ".venvs" / "mlflow" / "bin" / "python"
FRAMES_GOAL_S = 2.0
HTML_GOAL_S = 10.0
PIPELINE = "bench"


# --- the data, the same on both sides ------------------------------------------------------------


def param_value(run: int, param: int) -> Any:
    kind = param % 3
    if kind == 0:
        return round(0.001 * (1 + (run * 7 + param) % 17), 6)
    if kind == 1:
        return int(16 * (1 + (run + param) % 8))
    return ("adam", "sgd", "rmsprop")[(run + param) % 3]


def metric_values(run: int, metric: int, points: int):
    import numpy as np

    steps = np.arange(points, dtype=np.int64)
    values = (metric + 1) / (steps + 1.0) + 1e-4 * run + 1e-6 * ((steps * 31 + run * 17 + metric) % 97)
    return steps, values


# --- MLflow (runs in the mlflow environment: `python compare_bench.py --mlflow-side …`) -------------


def mlflow_side(workdir: Path, runs: int, params: int, metrics: int, points: int) -> dict[str, Any]:
    import sqlite3

    import mlflow
    from mlflow.entities import Param

    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment(PIPELINE, artifact_location=str(workdir / "artifacts"))
    started = time.perf_counter()
    run_ids = []
    now = int(time.time() * 1000)
    for run in range(runs):
        created = client.create_run(experiment, start_time=now + run, run_name=f"run-{run:04d}")
        run_id = created.info.run_id
        client.log_batch(run_id, params=[Param(f"p{p:02d}", str(param_value(run, p))) for p in range(params)])
        client.set_terminated(run_id, end_time=now + run + 1000)
        run_ids.append(run_id)
    database = sqlite3.connect(workdir / "mlflow.db")
    metric_columns = [row[1] for row in database.execute("PRAGMA table_info(metrics)")]
    latest_columns = [row[1] for row in database.execute("PRAGMA table_info(latest_metrics)")]
    for run, run_id in enumerate(run_ids):
        rows = []
        latest = []
        for metric in range(metrics):
            steps, values = metric_values(run, metric, points)
            key = f"m{metric:02d}"
            for step, value in zip(steps.tolist(), values.tolist(), strict=True):
                rows.append({"key": key, "value": value, "timestamp": now + step, "run_uuid": run_id, "step": step,
                             "is_nan": 0})
            latest.append({"key": key, "value": values[-1].item(), "timestamp": now + points - 1,
                           "step": points - 1, "is_nan": 0, "run_uuid": run_id})
        database.executemany(
            f"INSERT INTO metrics ({', '.join(metric_columns)}) VALUES ({', '.join('?' * len(metric_columns))})",
            [tuple(r.get(c) for c in metric_columns) for r in rows])
        database.executemany(
            f"INSERT INTO latest_metrics ({', '.join(latest_columns)}) VALUES "
            f"({', '.join('?' * len(latest_columns))})",
            [tuple(r.get(c) for c in latest_columns) for r in latest])
        database.commit()
    database.close()
    load_s = time.perf_counter() - started

    client = mlflow.MlflowClient(uri)  # a fresh client for the reads
    started = time.perf_counter()
    frame = mlflow.search_runs([experiment], max_results=max(runs, 1000), output_format="pandas")
    search_s = time.perf_counter() - started
    assert len(frame) == runs, f"mlflow found {len(frame)} runs"
    assert sum(c.startswith("params.") for c in frame.columns) == params
    assert sum(c.startswith("metrics.") for c in frame.columns) == metrics
    started = time.perf_counter()
    seen = 0
    for run_id in frame["run_id"]:
        for metric in range(metrics):
            seen += len(client.get_metric_history(run_id, f"m{metric:02d}"))
    history_s = time.perf_counter() - started
    assert seen == runs * metrics * points, f"mlflow returned {seen} points"
    return {"version": mlflow.__version__, "load_s": load_s, "search_runs_s": search_s,
            "get_metric_history_s": history_s, "points": seen}


# --- mlineage --------------------------------------------------------------------------------------


def mlineage_load(url: str, runs: int, params: int, metrics: int, points: int) -> float:
    from mlineage.metadata.store import Store
    from mlineage.proto import metadata_store_pb2 as pb
    from mlineage.proto import metric_series_pb2 as mpb

    started = time.perf_counter()
    store = Store(url, upgrade=True)
    pipeline_type = store.put_context_type(pb.ContextType(name="pipeline"))
    run_type = store.put_context_type(pb.ContextType(name="pipeline_run"))
    trainer_type = store.put_execution_type(pb.ExecutionType(name="Trainer"))
    [pipeline_id] = store.put_contexts([pb.Context(type_id=pipeline_type, name=PIPELINE)])
    now = int(time.time() * 1000)
    for run in range(runs):
        context = pb.Context(type_id=run_type, name=f"{PIPELINE}/run-{run:04d}")
        context.custom_properties["git_commit"].string_value = f"{run % 4:040x}"
        execution = pb.Execution(type_id=trainer_type, name=f"{PIPELINE}/run-{run:04d}/Trainer",
                                 last_known_state=pb.Execution.COMPLETE)
        execution.custom_properties["step"].string_value = "Trainer"
        execution.custom_properties["started_at_ms"].int_value = now + run
        execution.custom_properties["ended_at_ms"].int_value = now + run + 1000
        for p in range(params):
            value = param_value(run, p)
            target = execution.custom_properties[f"param.p{p:02d}"]
            if isinstance(value, float):
                target.double_value = value
            elif isinstance(value, int):
                target.int_value = value
            else:
                target.string_value = value
        execution_id, _, [context_id] = store.put_execution(execution, [], [context])
        store.put_parent_contexts([pb.ParentContext(child_id=context_id, parent_id=pipeline_id)])
        batch = []
        finals = {}
        for metric in range(metrics):
            steps, values = metric_values(run, metric, points)
            finals[f"m{metric:02d}"] = values[-1].item()
            batch.append(mpb.MetricSeries(execution_id=execution_id, name=f"m{metric:02d}",
                                          seq=(steps + 1).tolist(), step=steps.tolist(), value=values.tolist(),
                                          timestamp_ms=(steps + now).tolist()))
        store.put_metric_series(batch)
        # What the step client keeps beside the series: each metric's last value on the execution.
        for name, value in finals.items():
            execution.custom_properties[f"metric.{name}"].double_value = value
        execution.id = execution_id
        store.put_executions([execution])
    store.close()
    return time.perf_counter() - started


def mlineage_reads(url: str, runs: int, params: int, metrics: int, points: int) -> dict[str, float]:
    from mlineage.metadata.store import Store
    from mlineage.reports import compare, render

    result: dict[str, float] = {}
    store = Store(url)
    started = time.perf_counter()
    comparison = compare(store, pipeline=PIPELINE)
    result["frames_s"] = time.perf_counter() - started
    assert comparison.params.shape == (runs, params), comparison.params.shape
    assert comparison.final_metrics.shape == (runs, metrics), comparison.final_metrics.shape
    started = time.perf_counter()
    best = comparison.best_metrics
    result["best_s"] = time.perf_counter() - started
    assert best.shape == (runs, metrics), best.shape
    started = time.perf_counter()
    series = comparison.series
    result["series_s"] = time.perf_counter() - started
    assert len(series) == runs * metrics * points, len(series)
    store.close()
    store = Store(url)
    started = time.perf_counter()
    html = render(compare(store, pipeline=PIPELINE), "html", metric="m00", mode="min")
    result["html_s"] = time.perf_counter() - started
    result["html_bytes"] = len(html)
    store.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--params", type=int, default=50)
    parser.add_argument("--metrics", type=int, default=50)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--mlflow-python", default=str(DEFAULT_MLFLOW_PYTHON),
                        help="interpreter of a venv with mlflow (default .venvs/mlflow)")
    parser.add_argument("--skip-mlflow", action="store_true", help="measure mlineage only (no ratio)")
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT))
    parser.add_argument("--mlflow-side", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    shape = (args.runs, args.params, args.metrics, args.points)
    if args.mlflow_side:
        print(json.dumps(mlflow_side(Path(args.mlflow_side), *shape)))
        return 0
    with tempfile.TemporaryDirectory(prefix="compare-bench-") as tmp:
        workdir = Path(tmp)
        url = f"sqlite:///{workdir / 'mlineage.db'}"
        print(f"loading {args.runs} runs × {args.params} params × {args.metrics} metrics × {args.points} points",
              flush=True)
        ours: dict[str, Any] = {"load_s": mlineage_load(url, *shape)}
        ours.update(mlineage_reads(url, *shape))
        anchor: dict[str, Any] | None = None
        if not args.skip_mlflow:
            done = subprocess.run([args.mlflow_python, __file__, "--mlflow-side", str(workdir),
                                   "--runs", str(args.runs), "--params", str(args.params), "--metrics",
                                   str(args.metrics), "--points", str(args.points)],
                                  capture_output=True, text=True, env={**os.environ, "MLFLOW_TRACKING_URI": ""})
            if done.returncode != 0:
                print(done.stderr[-4000:], file=sys.stderr)
                return 2
            anchor = json.loads(done.stdout.strip().splitlines()[-1])
    rows = [("frames (params, final metrics, steps, I/O)", ours["frames_s"],
             anchor["search_runs_s"] if anchor else None, "mlflow.search_runs"),
            ("best metrics (min/max over every point)", ours["best_s"], None, "(MLflow keeps no min/max)"),
            ("all series, long form", ours["series_s"], anchor["get_metric_history_s"] if anchor else None,
             "get_metric_history × runs × metrics"),
            ("frames + series", ours["frames_s"] + ours["series_s"],
             anchor["search_runs_s"] + anchor["get_metric_history_s"] if anchor else None, "both"),
            ("HTML report (frames, plots)", ours["html_s"], None, "")]
    print(f"\n{'phase':<50} {'mlineage s':>11} {'mlflow s':>10} {'ratio':>7}  anchor")
    for name, mine, theirs, what in rows:
        ratio = f"{mine / theirs:7.3f}" if theirs else "      -"
        shown = f"{theirs:10.3f}" if theirs else "         -"
        print(f"{name:<50} {mine:11.3f} {shown} {ratio}  {what}")
    met = ours["frames_s"] < FRAMES_GOAL_S and ours["html_s"] < HTML_GOAL_S
    print(f"\ngoals: frames < {FRAMES_GOAL_S} s: {ours['frames_s']:.3f} s; HTML < {HTML_GOAL_S} s: "
          f"{ours['html_s']:.3f} s -> {'met' if met else 'NOT met'}")
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"shape": dict(zip(("runs", "params", "metrics", "points"), shape, strict=True)),
                                  "mlineage": ours, "mlflow": anchor, "goals_met": met,
                                  "python": platform.python_version()}, indent=2))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
