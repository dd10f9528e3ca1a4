"""The mixed load against 1, 2 and 4 `mlineage serve` replicas on ONE PostgreSQL database: how it scales.

    .venv/bin/python bench/load/scale.py                              # 32 clients, N = 1, 2, 4, 60 s each
    .venv/bin/python bench/load/scale.py --replicas 2 --duration 20   # one point, shorter

For each N: a fresh database on the PostgreSQL server of ``--pg-url``/``$MLINEAGE_TEST_POSTGRES_URL``
(``scripts/start_postgres.sh`` when neither is set; dropped afterwards), N replicas on 127.0.0.1, each
with its own gRPC and HTTP port, and ``--clients`` clients of ``workload.py`` (the real ml-metadata
client) as ``--processes`` processes of threads; client i talks to replica i % N for its whole life, as
gRPC clients behind a Kubernetes Service stick to the pod they connected to. Closed loop: each client
sends its next call when the last one answered. Reported per N: operations/s, p50/p99 per operation
kind, errors (failed calls and wrong answers; goal 0), every acknowledged write found exactly once in
the database, and the CPU seconds of the replicas, the clients and the database's processes (read from
/proc/<pid>/stat), so it shows which of them the machine's cores went to.

Results: a table and ``bench/results/load_scale.json``. Exit status: 0 clean, 1 errors or lost/duplicated
writes, 2 the run could not be set up.

The driver functions (``run_load``, ``verify_acknowledged``, ``summarise``) are what ``soak.py`` and the
tests use.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

LOAD_DIR = Path(__file__).resolve().parent
BENCH_DIR = LOAD_DIR.parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(REPO_ROOT))

import serve  # noqa: E402
from concurrency_bench import Database, cpu_seconds, percentile, render  # noqa: E402
from store_bench import default_mlmd_python, git_commit  # noqa: E402

WORKLOAD = LOAD_DIR / "workload.py"
OPS = ["write", "lineage", "list_by_type", "list_by_context", "get_by_id"]  # workload.MIX's keys
TAG = "load_write"  # workload.TAG
DEFAULT_OUTPUT = BENCH_DIR / "results" / "load_scale.json"
READY_TIMEOUT_S = 180.0


def split(clients: int, processes: int) -> list[tuple[int, int]]:
    """(first index, count) of each client process: ``clients`` spread as evenly as they go."""
    processes = max(1, min(processes, clients))
    base, extra = divmod(clients, processes)
    out, first = [], 0
    for p in range(processes):
        count = base + (p < extra)
        out.append((first, count))
        first += count
    return out


def start_replicas(db_url: str, count: int, *, workers: int | None = None) -> list[serve.Server]:
    """``count`` replicas on one database; the first creates and upgrades it, the others then join."""
    servers: list[serve.Server] = []
    try:
        for _ in range(count):
            servers.append(serve.start(db_url, workers=workers, http_port=serve.free_port()))
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


def database_processes(db_url: str) -> dict[int, str]:
    """PostgreSQL's processes that work for ``db_url``: its backends and the server's background workers."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT pid, backend_type FROM pg_stat_activity "
                    "WHERE datname = current_database() OR backend_type <> 'client backend'"
                )
            ).all()
    finally:
        engine.dispose()
    return {int(pid): str(kind) for pid, kind in rows}


def cpu_of(pids: Any) -> dict[int, float]:
    return {pid: cpu for pid in pids if (cpu := cpu_seconds(pid)) is not None}


def reaped_cpu_seconds(pid: int) -> float | None:
    """CPU time of the exited children a process has waited for (Linux /proc cutime + cstime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def parent_pid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def database_counters(db_url: str) -> dict[str, float]:
    """This database's sessions opened and time spent running statements (pg_stat_database, PostgreSQL 14+)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_stat_clear_snapshot()"))
            row = connection.execute(
                text(
                    "SELECT sessions, active_time, xact_commit, xact_rollback FROM pg_stat_database "
                    "WHERE datname = current_database()"
                )
            ).one()
    finally:
        engine.dispose()
    return {"sessions": row[0], "active_s": row[1] / 1000, "commits": row[2], "rollbacks": row[3]}


class DatabaseCpu:
    """CPU seconds PostgreSQL spent for one database during the load.

    A backend that exits during the load (a pool's overflow connection, closed when it is handed back
    to a full pool) takes its /proc figures with it; its CPU then shows up in the postmaster's reaped
    children time, which counts every exited backend of the server, other databases' too. So two
    figures: ``database`` (this database's backends alive at the start or the end, and the server's
    background processes) and ``database_with_exited`` (plus every backend the server reaped meanwhile:
    an upper bound on a server others use).
    """

    def __init__(self, db_url: str) -> None:
        self.url = db_url
        self.pids = database_processes(db_url)
        background = [pid for pid, kind in self.pids.items() if kind != "client backend"]
        self.postmaster = parent_pid(background[0]) if background else None
        self.before = cpu_of(self.pids)
        self.reaped_before = reaped_cpu_seconds(self.postmaster) if self.postmaster else None
        self.counters_before = database_counters(db_url)

    def finish(self) -> dict[str, Any]:
        self.pids.update(database_processes(self.url))  # backends opened during the load count from zero
        after = cpu_of(self.pids)
        alive = sum(after[p] - self.before.get(p, 0.0) for p in after)
        reaped = reaped_cpu_seconds(self.postmaster) if self.postmaster else None
        counters = database_counters(self.url)
        out: dict[str, Any] = {"database": alive}
        if reaped is not None and self.reaped_before is not None:
            out["database_with_exited"] = alive + reaped - self.reaped_before
        out["database_sessions_opened"] = counters["sessions"] - self.counters_before["sessions"]
        out["database_active_s"] = counters["active_s"] - self.counters_before["active_s"]
        out["database_commits"] = counters["commits"] - self.counters_before["commits"]
        return out


def verify_acknowledged(db_url: str, label: str, acknowledged: list[str]) -> dict[str, Any]:
    """Every acknowledged write in the database exactly once: executions and their outputs, by tag.

    Read straight from the store (in-process, not through the servers that took the writes).
    """
    import mlineage

    prefix = f"{label}/"
    store = mlineage.connect(db_url)
    try:
        executions = Counter(
            e.custom_properties[TAG].string_value
            for e in store.get_executions()
            if e.custom_properties[TAG].string_value.startswith(prefix)
        )
        artifacts = Counter(
            a.custom_properties[TAG].string_value
            for a in store.get_artifacts()
            if a.custom_properties[TAG].string_value.startswith(prefix)
        )
    finally:
        store.close()
    acked = Counter(acknowledged)
    wanted = set(acked)
    return {
        "acknowledged": len(acknowledged),
        "acknowledged_twice": sum(1 for n in acked.values() if n > 1),
        "found_exactly_once": sum(1 for t in wanted if executions[t] == 1 and artifacts[t] == 1),
        "missing": sorted(t for t in wanted if executions[t] == 0 or artifacts[t] == 0)[:20],
        "duplicated": sorted(t for t in wanted if executions[t] > 1 or artifacts[t] > 1)[:20],
        # Written but never acknowledged (a call whose answer was lost): allowed, reported.
        "unacknowledged_present": len(set(executions) - wanted),
        "executions_in_db": sum(executions.values()),
    }


def summarise(
    clients: list[dict[str, Any]], wall: float, since: float = 0.0, until: float = float("inf")
) -> list[dict]:
    """Rows per operation kind (and "all") over the calls that ended in [since, until) wall-clock time."""
    rows = []
    everything: list[float] = []
    for op in [*OPS, "all"]:
        if op == "all":
            latencies = sorted(everything)
            errors = sum(row["errors"] for row in rows)
        else:
            latencies = sorted(
                lat for c in clients for t, lat in c["latencies"].get(op, []) if since <= t < until
            )
            errors = sum(c["errors"].get(op, 0) + c["wrong_answers"].get(op, 0) for c in clients)
            everything.extend(latencies)
        rows.append(
            {
                "op": op,
                "calls": len(latencies),
                "calls_per_s": len(latencies) / wall if wall else 0.0,
                "p50_ms": None if not latencies else 1000 * percentile(latencies, 50),
                "p99_ms": None if not latencies else 1000 * percentile(latencies, 99),
                "mean_ms": None if not latencies else 1000 * sum(latencies) / len(latencies),
                "max_ms": None if not latencies else 1000 * latencies[-1],
                "errors": errors,
            }
        )
    return rows


def run_load(
    db_url: str,
    *,
    replicas: int,
    clients: int,
    processes: int,
    duration: float,
    rate: float | None = None,
    mlmd_python: str | None = None,
    workers: int | None = None,
    sample_every: float | None = None,
    sampler: Callable[[list[serve.Server], float], None] | None = None,
) -> dict[str, Any]:
    """One load run on ``db_url`` (an empty or fresh database): replicas, clients, results, verification.

    ``sampler(servers, elapsed_s)`` is called every ``sample_every`` seconds while the load runs.
    Raises RuntimeError when the run cannot be set up or a replica does not exit cleanly.
    """
    python = mlmd_python or default_mlmd_python()
    label = f"load-{uuid.uuid4().hex[:8]}"
    workdir = tempfile.TemporaryDirectory(prefix="mlineage_load_")
    procs: list[subprocess.Popen] = []
    servers = start_replicas(db_url, replicas, workers=workers)
    targets = [arg for s in servers for arg in ("--target", s.target)]
    try:
        setup = subprocess.run(
            [python, str(WORKLOAD), *targets, "--setup"], capture_output=True, text=True, timeout=300
        )
        if setup.returncode != 0:
            raise RuntimeError(f"setup failed:\n{setup.stderr[-3000:]}")
        seed_json = setup.stdout.strip().splitlines()[-1]
        ack_files = []
        for first, count in split(clients, processes):
            ack_file = Path(workdir.name) / f"acks-{first}.txt"
            ack_files.append(ack_file)
            command = [python, str(WORKLOAD), *targets, "--seed-json", seed_json, "--label", label]
            command += ["--first", str(first), "--threads", str(count), "--duration", str(duration)]
            command += ["--ack-file", str(ack_file)] + (["--rate", str(rate)] if rate else [])
            procs.append(
                subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                )
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        for proc in procs:  # each prints "ready" or exits
            line = proc.stdout.readline().strip()
            if line != "ready" or time.monotonic() > deadline:
                raise RuntimeError(f"a client process did not start: {line!r} {proc.stderr.read()[-2000:]}")
        database_cpu = DatabaseCpu(db_url)
        server_cpu0 = cpu_of(s.process.pid for s in servers)
        load_before = os.getloadavg()
        began_wall, began = time.time(), time.perf_counter()
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        if sampler and sample_every:
            next_sample = sample_every
            while any(p.poll() is None for p in procs) and time.perf_counter() - began < duration + 1:
                elapsed = time.perf_counter() - began
                if elapsed >= next_sample:
                    sampler(servers, elapsed)
                    next_sample += sample_every
                time.sleep(min(1.0, max(0.05, next_sample - elapsed)))
        results = []
        for proc in procs:
            remaining = max(5.0, duration + 180 - (time.perf_counter() - began))
            out, err = proc.communicate(timeout=remaining)
            lines = out.strip().splitlines()
            if proc.returncode != 0 or not lines:
                raise RuntimeError(f"a client process failed (rc={proc.returncode}):\n{err[-3000:]}")
            results.append(json.loads(lines[-1]))
        wall = time.perf_counter() - began
        server_cpu1 = cpu_of(s.process.pid for s in servers)
        database_figures = database_cpu.finish()
        load_after = os.getloadavg()
        acknowledged = [line for f in ack_files for line in f.read_text().split()]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        codes = [server.stop() for server in servers]
        workdir.cleanup()
    if any(codes):
        raise RuntimeError(
            f"a replica exited {codes}:\n{servers[codes.index(next(c for c in codes if c))].output()[-3000:]}"
        )
    fatal = [f for r in results for f in r.get("fatal", [])]
    if fatal:
        raise RuntimeError(f"a client stopped early: {fatal[0]}")
    per_client = [c for r in results for c in r["clients"]]
    rows = summarise(per_client, wall)
    return {
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "label": label,
        "replicas": replicas,
        "clients": clients,
        "client_processes": len(procs),
        "rate_per_client": rate,
        "duration_s": duration,
        "wall_s": wall,
        "began_wall": began_wall,
        "ops_per_s": rows[-1]["calls_per_s"],
        "errors": rows[-1]["errors"],
        "retries": sum(sum(c["retries"].values()) for c in per_client),
        "error_samples": [s for c in per_client for s in c["error_samples"]][:10],
        "cpu_s": {
            "replicas": sum(server_cpu1.get(p, 0.0) - server_cpu0.get(p, 0.0) for p in server_cpu1),
            "per_replica": [
                server_cpu1.get(s.process.pid, 0.0) - server_cpu0.get(s.process.pid, 0.0) for s in servers
            ],
            "clients": sum(r["cpu_s"] for r in results),
            **database_figures,
        },
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "verification": verify_acknowledged(db_url, label, acknowledged),
        "rows": rows,
        "clients_raw": per_client,  # every call's (end time, latency): dropped before a report is written
        "acknowledged_tags": acknowledged,  # likewise
    }


def clean(result: dict[str, Any]) -> bool:
    v = result["verification"]
    return (
        result["errors"] == 0 and v["found_exactly_once"] == v["acknowledged"] and not v["acknowledged_twice"]
    )


def scale_table(results: list[dict[str, Any]]) -> str:
    """One line per replica count: throughput (and its ratio to the first count's), p50/p99, errors, CPU.

    CPU ms/op is the CPU milliseconds of the replicas, the clients and the database per operation (the
    database's with its exited backends: ``DatabaseCpu``); db sessions is how many connections the
    replicas opened during the load; busy is the three CPU figures against the wall time of every core.
    """
    header = ["replicas", "ops/s", "× first"] + [f"{op} p50/p99 ms" for op in OPS]
    header += ["errors", "acked=found", "CPU ms/op repl/cli/db", "db sessions", "busy"]
    body = []
    anchor = results[0]["ops_per_s"] if results else 0.0
    for r in results:
        by_op = {row["op"]: row for row in r["rows"]}
        cells = [
            str(r["replicas"]),
            f"{r['ops_per_s']:.1f}",
            f"{r['ops_per_s'] / anchor:.2f}" if anchor else "—",
        ]
        cells += [f"{by_op[op]['p50_ms'] or 0:.1f}/{by_op[op]['p99_ms'] or 0:.1f}" for op in OPS]
        v, cpu = r["verification"], r["cpu_s"]
        calls = max(1, by_op["all"]["calls"])
        cells += [str(r["errors"]), f"{v['acknowledged']}={v['found_exactly_once']}"]
        db = cpu.get("database_with_exited", cpu["database"])
        cells += ["/".join(f"{1000 * x / calls:.1f}" for x in (cpu["replicas"], cpu["clients"], db))]
        cells += [str(cpu["database_sessions_opened"])]
        busy = (cpu["replicas"] + cpu["clients"] + db) / (r["wall_s"] * (os.cpu_count() or 1))
        cells += [f"{100 * busy:.0f}%"]
        body.append(cells)
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) for line in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicas", default="1,2,4", help="replica counts, comma-separated")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients")
    parser.add_argument(
        "--processes", type=int, default=4, help="client processes the clients are threads of"
    )
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load per replica count")
    parser.add_argument(
        "--workers", type=int, default=None, help="each replica's --workers (default: its own)"
    )
    parser.add_argument("--pg-url", help="PostgreSQL server URL (default $MLINEAGE_TEST_POSTGRES_URL)")
    parser.add_argument("--mlmd-python", default=default_mlmd_python(), help="interpreter with ml-metadata")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where the JSON results go")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.replicas.split(",") if n.strip()]
    db_args = argparse.Namespace(pg_url=args.pg_url, keep_db=False)
    results, status = [], 0
    for n in counts:
        print(f"{n} replica(s): {args.clients} clients × {args.duration:g} s …", file=sys.stderr, flush=True)
        database = Database("postgresql", db_args)
        try:
            result = run_load(
                database.url, replicas=n, clients=args.clients, processes=args.processes,
                duration=args.duration, mlmd_python=args.mlmd_python, workers=args.workers,
            )  # fmt: skip
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            print(f"\n{n} replica(s) FAILED: {exc}")
            status = 2
            continue
        finally:
            database.close()
        result["database"] = database.label
        del result["clients_raw"], result["acknowledged_tags"]
        results.append(result)
        print(
            f"\n{n} replica(s), {database.label}: {args.clients} clients in {result['client_processes']} processes"
        )
        print(render(result["rows"]))
        for sample in result["error_samples"]:
            print(f"  error: {sample}")
        if not clean(result):
            status = max(status, 1)
    report = {
        "bench": "load_scale",
        "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "command": " ".join(["bench/load/scale.py", *(argv if argv is not None else sys.argv[1:])]),
        "results": results,
    }
    if results:
        print(f"\nmixed load, {args.clients} clients, {os.cpu_count()} CPUs, one PostgreSQL database:")
        print(scale_table(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults: {args.output}")
    return status


if __name__ == "__main__":
    sys.exit(main())
