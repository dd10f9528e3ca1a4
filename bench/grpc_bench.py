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

Per call (``--percall``; ``--percall-only`` runs just this): one get of 10 artifacts by id
through the same client, side by side in one client process, against (a) an empty Python
gRPC server answering a canned ``GetArtifactsByIDResponse`` (``canned_server.py``: the floor
of any Python gRPC server), (b) ``mlineage serve`` on a SQLite file holding those artifacts
(and (b') the same with its by-id cache off, ``MLINEAGE_GRPC_BY_ID_CACHE=0``: a get that
misses), and (c) the embedded ``Store.get_artifacts_by_id`` on the same file, in-process.
Goal: the service's own cost, (b) - (a), at most the store's own time for that get, (c).

Exit status: 0 every phase meets the goal, 1 some phase misses it, 2 a backend failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
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


PERCALL_IDS = 10


def _percall_store(path: str) -> list[int]:
    """1000 Dataset artifacts as store_workload writes them; returns 10 ids spread over them."""
    sys.path.insert(0, str(BENCH_DIR.parent))
    import mlineage
    from mlineage.proto import metadata_store_pb2 as pb

    store = mlineage.connect(f"sqlite:///{path}")
    type_id = store.put_artifact_type(pb.ArtifactType(name="Dataset", properties={"span": pb.INT, "split": pb.STRING}))
    artifacts = []
    for i in range(1000):
        artifact = pb.Artifact(type_id=type_id, uri=f"gs://bucket/data/{i}", name=f"dataset-{i}")
        artifact.properties["span"].int_value = i % 50
        artifact.properties["split"].string_value = "train" if i % 2 else "eval"
        artifact.custom_properties["tag"].string_value = f"x-{i % 10}"
        artifacts.append(artifact)
    ids = store.put_artifacts(artifacts)
    store.close()
    return ids[:: len(ids) // PERCALL_IDS][:PERCALL_IDS]


def _embedded_ms(path: str, ids: list[int], calls: int, blocks: int) -> dict[str, float]:
    import mlineage

    store = mlineage.connect(f"sqlite:///{path}")
    for _ in range(200):
        store.get_artifacts_by_id(ids)
    per_block = max(1, calls // blocks)
    means = []
    for _ in range(blocks):
        started = time.perf_counter()
        for _ in range(per_block):
            store.get_artifacts_by_id(ids)
        means.append((time.perf_counter() - started) / per_block)
    store.close()
    return {"median_ms": statistics.median(means) * 1e3, "min_ms": min(means) * 1e3}


def _start_canned(response: Path) -> tuple[subprocess.Popen, str]:
    port = serve.free_port()
    process = subprocess.Popen(
        [sys.executable, str(BENCH_DIR / "canned_server.py"), "--port", str(port), "--response", str(response)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    line = process.stdout.readline()
    if "canned: gRPC on" not in line:
        process.kill()
        raise RuntimeError(f"canned server did not start: {line}{process.stdout.read()[-2000:]}")
    return process, f"127.0.0.1:{port}"


def run_percall(args: argparse.Namespace) -> dict[str, Any]:
    """(a) canned server, (b) mlineage serve, (c) embedded store: one get of 10 artifacts by id."""
    sys.path.insert(0, str(BENCH_DIR.parent))
    import mlineage
    from mlineage.proto import metadata_store_service_pb2 as svc

    with tempfile.TemporaryDirectory(prefix="grpc_percall_") as tmp:
        path = os.path.join(tmp, "mlineage.db")
        ids = _percall_store(path)
        store = mlineage.connect(f"sqlite:///{path}")
        response = Path(tmp) / "response.bin"
        response.write_bytes(svc.GetArtifactsByIDResponse(artifacts=store.get_artifacts_by_id(ids)).SerializeToString())
        store.close()
        canned, canned_target = _start_canned(response)
        server = serve.start(f"sqlite:///{path}", workers=args.workers)
        # The same server with its by-id cache off: what a get costs when it misses.
        os.environ["MLINEAGE_GRPC_BY_ID_CACHE"] = "0"
        try:
            uncached = serve.start(f"sqlite:///{path}", workers=args.workers)
        finally:
            del os.environ["MLINEAGE_GRPC_BY_ID_CACHE"]
        try:
            targets = {"canned": canned_target, "mlineage": server.target, "uncached": uncached.target}
            command = [
                args.mlmd_python, str(BENCH_DIR / "percall_worker.py"),
                "--targets", json.dumps(targets),
                "--ids", json.dumps(ids), "--calls", str(args.percall_calls), "--blocks", str(args.percall_blocks),
            ]  # fmt: skip
            env = dict(os.environ, GLOG_minloglevel="2")
            proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=args.timeout)
            try:
                client = json.loads(proc.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                return {"error": f"per-call client exited {proc.returncode}", "stderr_tail": proc.stderr.splitlines()[-25:]}
        finally:
            canned.terminate()
            canned.wait(timeout=30)
            code = server.stop() or uncached.stop()
        if code != 0:
            return {"error": f"mlineage serve exited {code}", "stderr_tail": server.output().splitlines()[-25:]}
        embedded = _embedded_ms(path, ids, args.percall_calls, args.percall_blocks)
    results = client["results"]
    if not results["canned"]["answer"] == results["mlineage"]["answer"] == results["uncached"]["answer"]:
        return {"error": f"answers differ: {results}"}
    overhead = results["mlineage"]["median_ms"] - results["canned"]["median_ms"]
    return {
        "ids": len(ids),
        "calls": client["calls_per_target"],
        "canned_ms": results["canned"]["median_ms"],
        "mlineage_ms": results["mlineage"]["median_ms"],
        "uncached_ms": results["uncached"]["median_ms"],
        "uncached_overhead_ms": results["uncached"]["median_ms"] - results["canned"]["median_ms"],
        "embedded_ms": embedded["median_ms"],
        "min_ms": {"canned": results["canned"]["min_ms"], "mlineage": results["mlineage"]["min_ms"],
                   "uncached": results["uncached"]["min_ms"],
                   "embedded": embedded["min_ms"]},
        "overhead_ms": overhead,
        "pass": overhead <= embedded["median_ms"],
    }  # fmt: skip


def render_percall(result: dict[str, Any]) -> str:
    return "\n".join([
        f"per call: get_artifacts_by_id of {result['ids']} artifacts through the ml-metadata client, "
        f"{result['calls']} calls per target (median of block means; minimum in brackets)",
        f"  (a) empty Python gRPC server, canned response  {result['canned_ms']:.3f} ms ({result['min_ms']['canned']:.3f})",
        f"  (b) mlineage serve (SQLite)                     {result['mlineage_ms']:.3f} ms ({result['min_ms']['mlineage']:.3f})",
        f"  (b') mlineage serve, by-id cache off (a miss)   {result['uncached_ms']:.3f} ms ({result['min_ms']['uncached']:.3f})"
        f"  -> (b')-(a) = {result['uncached_overhead_ms']:.3f} ms",
        f"  (c) embedded Store, in-process                  {result['embedded_ms']:.3f} ms ({result['min_ms']['embedded']:.3f})",
        f"  {'PASS' if result['pass'] else 'MISS'}  service cost (b)-(a) = {result['overhead_ms']:.3f} ms "
        f"vs the store's own (c) = {result['embedded_ms']:.3f} ms: ratio {result['overhead_ms'] / result['embedded_ms']:.2f}",
    ])  # fmt: skip


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
    parser.add_argument("--percall", action="store_true", help="also measure the per-call cost (see above)")
    parser.add_argument("--percall-only", action="store_true", help="measure only the per-call cost")
    parser.add_argument("--percall-calls", type=int, default=5000, help="per-call: calls per target")
    parser.add_argument("--percall-blocks", type=int, default=50, help="per-call: blocks the calls alternate in")
    args = parser.parse_args(argv)
    if args.percall_only:
        result = run_percall(args)
        if "error" in result:
            print(f"per-call FAILED: {result['error']}")
            print("\n".join(result.get("stderr_tail", [])))
            return 2
        print(render_percall(result))
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.with_name("grpc_percall.json").write_text(json.dumps(result, indent=2) + "\n")
        return 0 if result["pass"] else 1

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
    percall = run_percall(args) if args.percall else None
    if percall is not None:
        print()
        print(render_percall(percall) if "error" not in percall else f"per-call FAILED: {percall['error']}")
        if "error" in percall:
            errors["percall"] = percall
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
        "percall": percall,
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
