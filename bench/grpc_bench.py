"""The store workload through the real ml-metadata client against `mlineage serve`, side by side with MLMD.

Each round runs ``store_worker.py`` twice under the ml-metadata venv's interpreter:

- ``mlmd``: ``ml_metadata.MetadataStore`` in-process on a fresh SQLite file (the anchor,
  what a TFX step gets today, as in ``store_bench.py``);
- ``mlmd-grpc``: the same client, unmodified, built from
  ``MetadataStoreClientConfig(host, port)``, against a ``mlineage serve`` started for the
  round on a fresh SQLite file (127.0.0.1, gRPC only) and stopped with SIGTERM after it.

Both execute ``store_workload.py`` unchanged. The table shows the median seconds per
phase over the rounds and the ratio gRPC/in-process against the goal (2×); the full
results go to ``bench/results/grpc_bench.json``.

Exit status: 0 every phase meets the goal, 1 some phase misses it, 2 a backend failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import serve  # noqa: E402
from store_bench import (  # noqa: E402
    compare,
    default_mlmd_python,
    git_commit,
    median_phases,
    render_table,
    run_worker,
)

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUTPUT = BENCH_DIR / "results" / "grpc_bench.json"
BACKENDS = ("mlmd", "mlmd-grpc")
GOAL_RATIO = 2.0


def run_grpc_round(args: argparse.Namespace) -> dict[str, Any]:
    """Start a server on a fresh SQLite file, run the workload through the client, stop the server."""
    with tempfile.TemporaryDirectory(prefix="grpc_bench_") as tmp:
        try:
            server = serve.start(f"sqlite:///{os.path.join(tmp, 'mlineage.db')}", workers=args.workers)
        except RuntimeError as exc:
            return {"error": str(exc)}
        try:
            result = run_worker("mlmd-grpc", args.mlmd_python, args, ["--target", server.target])
        finally:
            code = server.stop()
        result["server_startup_seconds"] = server.startup_seconds
        if code != 0 and "error" not in result:
            result = {
                "error": f"mlineage serve exited {code}",
                "stderr_tail": server.output().splitlines()[-25:],
            }
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--artifacts", type=int, default=2000, help="N: artifacts put (half single, half batched)"
    )
    parser.add_argument("--repeat", type=int, default=20, help="R: repetitions of the query phases")
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs per backend, alternating; medians are shown"
    )
    parser.add_argument("--mlmd-python", default=default_mlmd_python(), help="interpreter with ml-metadata")
    parser.add_argument("--workers", type=int, default=None, help="server's --workers (default: its own)")
    parser.add_argument("--goal", type=float, default=GOAL_RATIO, help="largest acceptable gRPC/MLMD ratio")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed per workload run")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where the JSON results go")
    parser.add_argument("--verbose", action="store_true", help="show a failing worker's traceback")
    args = parser.parse_args(argv)

    runs: dict[str, list[dict[str, Any]]] = {backend: [] for backend in BACKENDS}
    errors: dict[str, dict[str, Any]] = {}
    load = [os.getloadavg()]
    for round_number in range(1, args.rounds + 1):
        for backend in BACKENDS:
            if backend in errors:
                continue
            print(f"round {round_number}/{args.rounds}: {backend} …", file=sys.stderr, flush=True)
            if backend == "mlmd":
                result = run_worker("mlmd", args.mlmd_python, args)
            else:
                result = run_grpc_round(args)
            if "error" in result:
                errors[backend] = result
            else:
                runs[backend].append(result)
        load.append(os.getloadavg())

    mlmd, mine = median_phases(runs["mlmd"]), median_phases(runs["mlmd-grpc"])
    rows = compare(mlmd, mine, args.goal)
    env = {backend: (runs[backend] or [errors.get(backend, {})])[0].get("env") for backend in BACKENDS}
    startup = [run["server_startup_seconds"] for run in runs["mlmd-grpc"]]
    print(f"\ngRPC bench: N={args.artifacts} artifacts, R={args.repeat}, median of {args.rounds} round(s)")
    print(f"  MLMD in-process vs ml-metadata client → mlineage serve (SQLite) on {platform.node()}")
    print(f"  client {args.mlmd_python} {json.dumps(env['mlmd'])}; server {sys.executable}")
    print(f"  load average (1 min) per round: {', '.join(f'{one:.2f}' for one, _, _ in load)}")
    if startup:
        print(f"  server startup (not judged): {min(startup):.2f}–{max(startup):.2f} s")
    print()
    print(render_table(rows, args.goal, label="mlineage gRPC s"))
    floor = [run["rpc_floor"]["seconds"] / run["rpc_floor"]["calls"] for run in runs["mlmd-grpc"]]
    by_phase = {row["phase"]: row for row in rows}
    single = by_phase.get("get_by_id", {})
    if floor and single.get("mlmd_seconds") and single.get("mlineage_seconds"):
        floor_ms = statistics.median(floor) * 1000
        print(
            f"\nRPC floor: a no-op call (grpc.health.v1 Check) to the same server takes {floor_ms:.3f} ms "
            f"(median); get_by_id takes {single['mlineage_seconds'] / single['calls'] * 1000:.3f} ms a call "
            f"over gRPC, {single['mlmd_seconds'] / single['calls'] * 1000:.3f} ms in-process in MLMD."
        )
    for backend, failure in errors.items():
        print(f"\n{backend} FAILED: {failure['error']}")
        if args.verbose:
            print("\n".join(f"    {line}" for line in failure.get("stderr_tail", [])))
        else:
            print("  (rerun with --verbose for the worker's traceback)")

    report = {
        "bench": "grpc_bench",
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "host": {"platform": platform.platform(), "cpus": os.cpu_count(), "loadavg": load},
        "params": {
            "artifacts": args.artifacts,
            "repeat": args.repeat,
            "rounds": args.rounds,
            "goal_ratio": args.goal,
            "server_workers": args.workers,
        },
        "interpreters": {"client": args.mlmd_python, "server": sys.executable},
        "env": env,
        "phases": rows,
        "runs": runs,
        "errors": errors,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults: {args.output}")

    if errors:
        return 2
    return 0 if all(row["pass"] is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
