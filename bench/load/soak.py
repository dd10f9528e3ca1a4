"""A long, steady mixed load against 2 `mlineage serve` replicas on PostgreSQL: memory and latency drift.

    .venv/bin/python bench/load/soak.py                     # 5 minutes (a quick look)
    .venv/bin/python bench/load/soak.py --duration 1800     # the issue's 30 minutes

The load is ``scale.run_load``'s (``workload.py``: the real ml-metadata client, TFX-like writes, lineage
walks, paged lists), but paced: ``--clients`` clients (default 8, in 2 processes) at ``--rate`` operations
per second each (default 5), so the replicas are busy without saturating the machine. Every
``--sample-every`` seconds (default 60) each replica's RSS (VmRSS), threads (/proc/<pid>/status) and
open file descriptors (/proc/<pid>/fd) are sampled, and the database's size; each window's p50/p99 per
operation kind comes from the calls' end times. Drift: the last ``--edge`` seconds' latency (default 300,
capped at a third of the run) against the first's, and each replica's RSS slope in MiB/hour (least
squares over the samples after the first ``--edge`` seconds: start-up and cache warm-up excluded, as
"after it settled"). Goal: flat. Afterwards every acknowledged write is counted in the database
(exactly once).

Results: a table and ``bench/results/load_soak.json``. Exit status: 0 clean, 1 errors or lost writes,
2 the run could not be set up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale  # noqa: E402
from scale import OPS, Database, default_mlmd_python, render, run_load, summarise  # noqa: E402

DEFAULT_OUTPUT = scale.BENCH_DIR / "results" / "load_soak.json"


def process_sample(pid: int) -> dict[str, Any]:
    """RSS (MiB), threads and open file descriptors of a live process, from /proc."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return {
        "rss_mib": int(status["VmRSS"].split()[0]) / 1024,
        "threads": int(status["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


def database_size_mib(db_url: str) -> float:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT pg_database_size(current_database())")).scalar() / 2**20
    finally:
        engine.dispose()


def slope_per_hour(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) points, per hour; None for fewer than two points."""
    if len(points) < 2:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    return 3600 * sum((t - mean_t) * (v - mean_v) for t, v in points) / var


def drift(result: dict[str, Any], samples: list[dict[str, Any]], edge: float) -> dict[str, Any]:
    """Latency of the last ``edge`` seconds against the first's, per kind; RSS slope per replica."""
    clients, began, wall = result["clients_raw"], result["began_wall"], result["wall_s"]
    first = {row["op"]: row for row in summarise(clients, edge, began, began + edge)}
    last = {row["op"]: row for row in summarise(clients, edge, began + wall - edge, began + wall)}
    latency = {}
    for op in [*OPS, "all"]:
        a, b = first[op], last[op]
        latency[op] = {
            "first_p50_ms": a["p50_ms"], "last_p50_ms": b["p50_ms"],
            "first_p99_ms": a["p99_ms"], "last_p99_ms": b["p99_ms"],
            "p50_ratio": b["p50_ms"] / a["p50_ms"] if a["p50_ms"] and b["p50_ms"] else None,
            "p99_ratio": b["p99_ms"] / a["p99_ms"] if a["p99_ms"] and b["p99_ms"] else None,
        }  # fmt: skip
    rss = []
    for index in range(len(samples[0]["replicas"]) if samples else 0):
        settled = [(s["t_s"], s["replicas"][index]["rss_mib"]) for s in samples if s["t_s"] >= edge]
        every = [(s["t_s"], s["replicas"][index]["rss_mib"]) for s in samples]
        rss.append(
            {
                "replica": index,
                "first_rss_mib": every[0][1],
                "last_rss_mib": every[-1][1],
                "slope_mib_per_hour_settled": slope_per_hour(settled),
                "slope_mib_per_hour_all": slope_per_hour(every),
                "fds": [every_s["replicas"][index]["fds"] for every_s in samples],
                "threads": [every_s["replicas"][index]["threads"] for every_s in samples],
            }
        )
    return {"edge_s": edge, "latency": latency, "rss": rss}


def windows(result: dict[str, Any], every: float) -> list[dict[str, Any]]:
    """Per window of ``every`` seconds: calls, errors are run totals, so only calls and p50/p99 per kind."""
    out = []
    began, wall = result["began_wall"], result["wall_s"]
    start = 0.0
    while start + every / 2 <= wall:
        rows = summarise(result["clients_raw"], every, began + start, began + min(wall, start + every))
        out.append(
            {
                "from_s": start,
                "ops_per_s": rows[-1]["calls_per_s"],
                **{f"{r['op']}_p50_ms": r["p50_ms"] for r in rows},
                **{f"{r['op']}_p99_ms": r["p99_ms"] for r in rows},
            }
        )
        start += every
    return out


def fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration", type=float, default=300.0, help="seconds of load (1800: the issue's soak)"
    )
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--processes", type=int, default=2, help="client processes the clients are threads of"
    )
    parser.add_argument("--rate", type=float, default=5.0, help="operations per second per client (0: back to back)")
    parser.add_argument("--sample-every", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--edge", type=float, default=300.0, help="seconds compared at start and end")
    parser.add_argument("--pg-url", help="PostgreSQL server URL (default $MLINEAGE_TEST_POSTGRES_URL)")
    parser.add_argument("--mlmd-python", default=default_mlmd_python(), help="interpreter with ml-metadata")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where the JSON results go")
    args = parser.parse_args(argv)
    edge = min(args.edge, args.duration / 3)
    database = Database("postgresql", argparse.Namespace(pg_url=args.pg_url, keep_db=False))
    samples: list[dict[str, Any]] = []

    def sample(servers: list[Any], elapsed: float) -> None:
        entry = {
            "t_s": round(elapsed, 1),
            "replicas": [process_sample(s.process.pid) for s in servers],
            "database_mib": database_size_mib(database.url),
        }
        samples.append(entry)
        rss = " ".join(f"{r['rss_mib']:.0f}" for r in entry["replicas"])
        print(
            f"  t={elapsed:6.0f}s RSS MiB {rss}; db {entry['database_mib']:.0f} MiB",
            file=sys.stderr,
            flush=True,
        )

    print(
        f"soak: {args.replicas} replicas, {args.clients} clients × {args.rate:g} ops/s, {args.duration:g} s …",
        file=sys.stderr,
        flush=True,
    )
    try:
        result = run_load(
            database.url, replicas=args.replicas, clients=args.clients, processes=args.processes,
            duration=args.duration, rate=args.rate, mlmd_python=args.mlmd_python,
            sample_every=args.sample_every, sampler=sample,
        )  # fmt: skip
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"soak FAILED: {exc}")
        database.close()
        return 2
    database.close()
    result["database"] = database.label
    result["samples"] = samples
    result["drift"] = drift(result, samples, edge)
    result["windows"] = windows(result, args.sample_every)
    del result["clients_raw"], result["acknowledged_tags"]
    report = {
        "bench": "load_soak",
        "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "command": " ".join(["bench/load/soak.py", *(argv if argv is not None else sys.argv[1:])]),
        "result": result,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")

    print(
        f"\nsoak, {result['database']}: {args.replicas} replicas, {args.clients} clients × {args.rate:g} ops/s"
    )
    print(render(result["rows"]))
    print(f"\nper window of {args.sample_every:g} s: ops/s, p50/p99 ms of all calls, replicas' RSS MiB")
    for window, entry in zip(result["windows"], [*samples, *([None] * len(result["windows"]))], strict=False):
        rss = "" if entry is None else " ".join(f"{r['rss_mib']:.0f}" for r in entry["replicas"])
        print(
            f"  {window['from_s']:6.0f}s  {window['ops_per_s']:6.1f}  "
            f"{fmt(window['all_p50_ms'])}/{fmt(window['all_p99_ms'])}  {rss}"
        )
    d = result["drift"]
    print(f"\ndrift, last {d['edge_s']:g} s vs first {d['edge_s']:g} s (p50 and p99 ratio; 1.0 is flat):")
    for op, row in d["latency"].items():
        print(
            f"  {op:16} p50 {fmt(row['first_p50_ms'])} → {fmt(row['last_p50_ms'])} ms ({fmt(row['p50_ratio'], 2)}×)"
            f"   p99 {fmt(row['first_p99_ms'])} → {fmt(row['last_p99_ms'])} ms ({fmt(row['p99_ratio'], 2)}×)"
        )
    for row in d["rss"]:
        print(
            f"  replica {row['replica']}: RSS {row['first_rss_mib']:.0f} → {row['last_rss_mib']:.0f} MiB, slope "
            f"{fmt(row['slope_mib_per_hour_settled'])} MiB/h after the first {d['edge_s']:g} s "
            f"({fmt(row['slope_mib_per_hour_all'])} MiB/h over all samples); fds {row['fds'][0]}→{row['fds'][-1]}, "
            f"threads {row['threads'][0]}→{row['threads'][-1]}"
        )
    v = result["verification"]
    print(
        f"\nacknowledged writes {v['acknowledged']}, found exactly once {v['found_exactly_once']}; errors {result['errors']}"
    )
    for s in result["error_samples"]:
        print(f"  error: {s}")
    print(f"results: {args.output}")
    return 0 if scale.clean(result) else 1


if __name__ == "__main__":
    sys.exit(main())
