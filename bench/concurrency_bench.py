"""Many clients at once against ONE `mlineage serve`: calls/s, p50/p99 latency per operation, errors.

    .venv/bin/python bench/concurrency_bench.py                      # PostgreSQL, 16 clients, 30 s
    .venv/bin/python bench/concurrency_bench.py --db sqlite          # the same on a SQLite file
    .venv/bin/python bench/concurrency_bench.py --db postgresql,sqlite --clients 16 --duration 30

Each database gets a fresh store (PostgreSQL: a new database on the server of
``--pg-url``/``$MLINEAGE_TEST_POSTGRES_URL``, started with ``scripts/start_postgres.sh``
when neither is set, dropped afterwards; SQLite: a new file) and one ``mlineage serve``
on 127.0.0.1. ``concurrency_worker.py --setup`` creates the types and seed Datasets; then
``--clients`` processes, each running the real ml-metadata client (ml-metadata venv, one
channel per process, so no client shares a GIL with another), wait until all are
connected and run the mix in ``concurrency_worker.MIX`` for ``--duration`` seconds.
Every answer is checked; exceptions and wrong answers are errors, and the goal is zero.
On PostgreSQL the seeded database is ANALYZEd before the load (what autovacuum does
within a minute); ``--no-analyze`` skips that.

Results: a table per database and ``bench/results/concurrency_bench.json`` (the entry for
each database run is replaced, others are kept). Exit status: 0 no errors, 1 errors,
2 the run could not be set up.
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
import uuid
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(REPO_ROOT))

import serve  # noqa: E402
from concurrency_worker import MIX  # noqa: E402
from store_bench import default_mlmd_python, git_commit  # noqa: E402

WORKER = BENCH_DIR / "concurrency_worker.py"
DEFAULT_OUTPUT = BENCH_DIR / "results" / "concurrency_bench.json"
READY_TIMEOUT_S = 180.0


def postgres_admin_url(args: argparse.Namespace) -> str:
    url = args.pg_url or os.environ.get("MLINEAGE_TEST_POSTGRES_URL")
    if url:
        return url
    print("starting PostgreSQL with scripts/start_postgres.sh …", file=sys.stderr, flush=True)
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "start_postgres.sh")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("export MLINEAGE_TEST_POSTGRES_URL="):
            return line.split("=", 1)[1].strip()
    raise RuntimeError(f"scripts/start_postgres.sh gave no URL:\n{proc.stderr[-2000:]}")


class Database:
    """A fresh database for one run: a new PostgreSQL database or a new SQLite file."""

    def __init__(self, kind: str, args: argparse.Namespace) -> None:
        self.kind, self.keep = kind, args.keep_db
        self._tmp = self._admin = None
        if kind == "sqlite":
            self._tmp = tempfile.TemporaryDirectory(prefix="concurrency_bench_")
            self.url = f"sqlite:///{os.path.join(self._tmp.name, 'mlineage.db')}"
            self.label = "SQLite file"
            return
        from sqlalchemy import create_engine, text

        from mlineage.metadata.engine import normalize_url

        admin_url = normalize_url(postgres_admin_url(args))
        self.name = f"mlineage_concbench_{uuid.uuid4().hex[:10]}"
        self._admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.label = "PostgreSQL " + connection.execute(text("SHOW server_version")).scalar()
        self.url = f"{admin_url.rpartition('/')[0]}/{self.name}"

    def analyze(self) -> None:
        """PostgreSQL: ANALYZE the seeded tables, as autovacuum does within a minute of the load.

        On a database filled seconds ago the planner has no statistics and picks nested-loop
        plans for the filter listing that take tens of milliseconds (``--no-analyze`` shows it).
        """
        if self._admin is None:
            return
        from sqlalchemy import create_engine

        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE")
        finally:
            engine.dispose()

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
        if self._admin is not None:
            if not self.keep:
                from sqlalchemy import text

                with self._admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self._admin.dispose()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return None
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summarise(results: list[dict[str, Any]], wall: float) -> list[dict[str, Any]]:
    rows = []
    everything: list[float] = []
    total_errors = 0
    for op in [*MIX, "all"]:
        if op == "all":
            latencies = sorted(everything)
            errors = total_errors
        else:
            latencies = sorted(x for r in results for x in r["latencies"].get(op, []))
            errors = sum(r["errors"].get(op, 0) + r["wrong_answers"].get(op, 0) for r in results)
            everything.extend(latencies)
            total_errors += errors
        rows.append(
            {
                "op": op,
                "calls": len(latencies),
                "calls_per_s": len(latencies) / wall if wall else None,
                "p50_ms": None if not latencies else 1000 * percentile(latencies, 50),
                "p99_ms": None if not latencies else 1000 * percentile(latencies, 99),
                "mean_ms": None if not latencies else 1000 * statistics.fmean(latencies),
                "max_ms": None if not latencies else 1000 * latencies[-1],
                "errors": errors,
            }
        )
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    header = ("operation", "calls", "calls/s", "p50 ms", "p99 ms", "mean ms", "max ms", "errors")

    def ms(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f}"

    body = [
        (
            row["op"], str(row["calls"]), f"{row['calls_per_s']:.1f}", ms(row["p50_ms"]), ms(row["p99_ms"]),
            ms(row["mean_ms"]), ms(row["max_ms"]), str(row["errors"]),
        )
        for row in rows
    ]  # fmt: skip
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def fmt(line: tuple[str, ...]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )

    return "\n".join([fmt(header), "  ".join("-" * w for w in widths), *(fmt(line) for line in body)])


def run_one(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """One database: fresh store, one server, setup, N clients for the duration; the summary."""
    python = args.mlmd_python
    database = Database(kind, args)
    clients: list[subprocess.Popen] = []
    server = None
    try:
        server = serve.start(database.url, workers=args.workers,
                             extra_args=("--cpus", args.serve_cpus) if args.serve_cpus else ())
        setup = subprocess.run(
            [python, str(WORKER), "--target", server.target, "--setup", "--seed", str(args.seed)],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        if setup.returncode != 0:
            raise RuntimeError(f"setup failed:\n{setup.stderr[-3000:]}")
        seed_json = setup.stdout.strip().splitlines()[-1]
        if args.analyze:
            database.analyze()
        for index in range(args.clients):
            command = [python, str(WORKER), "--target", server.target, "--client", str(index)]
            command += ["--seed-json", seed_json, "--duration", str(args.duration)]
            clients.append(
                subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                )
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        for client in clients:  # a readline blocks, but each client prints "ready" or exits
            line = client.stdout.readline().strip()
            if line != "ready" or time.monotonic() > deadline:
                raise RuntimeError(f"a client did not start: {line!r} {client.stderr.read()[-2000:]}")
        load_before = os.getloadavg()
        cpu_before = cpu_seconds(server.process.pid)
        began = time.perf_counter()
        for client in clients:
            client.stdin.write("go\n")
            client.stdin.flush()
        results = []
        for client in clients:
            remaining = max(1.0, args.duration + 120 - (time.perf_counter() - began))
            out, err = client.communicate(timeout=remaining)
            lines = out.strip().splitlines()
            if client.returncode != 0 or not lines:
                raise RuntimeError(f"a client failed (rc={client.returncode}):\n{err[-3000:]}")
            results.append(json.loads(lines[-1]))
        wall = time.perf_counter() - began
        cpu_after = cpu_seconds(server.process.pid)
        load_after = os.getloadavg()
    finally:
        for client in clients:
            if client.poll() is None:
                client.kill()
                client.wait()
        code = server.stop() if server is not None else None
        database.close()
    fatal = [r["fatal"] for r in results if "fatal" in r]
    if fatal:
        raise RuntimeError(f"a client stopped early: {fatal[0]}")
    if code != 0:
        raise RuntimeError(f"mlineage serve exited {code}:\n{server.output()[-3000:]}")
    rows = summarise(results, statistics.fmean(r["seconds"] for r in results))
    return {
        "db": kind,
        "database": database.label,
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "clients": args.clients,
        "duration_s": args.duration,
        "wall_s": wall,
        "seed": args.seed,
        "analyzed_after_seeding": bool(args.analyze and kind == "postgresql"),
        "server_workers": args.workers,
        "server_cpus": args.serve_cpus or "auto",
        "server_cpu_s": None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "aborted_attempts": sum(r["aborted_attempts"] for r in results),
        "error_samples": [sample for r in results for sample in r["error_samples"]][:10],
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="postgresql", help="postgresql, sqlite or both, comma-separated")
    parser.add_argument("--clients", type=int, default=16, help="client processes")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--seed", type=int, default=1000, help="seed Dataset artifacts")
    parser.add_argument("--workers", type=int, default=None, help="server's --workers (default: its own)")
    parser.add_argument("--serve-cpus", metavar="auto|all|LIST", help="server's --cpus (default: its own, auto)")
    parser.add_argument("--pg-url", help="PostgreSQL server URL (default $MLINEAGE_TEST_POSTGRES_URL)")
    parser.add_argument(
        "--no-analyze", dest="analyze", action="store_false", help="PostgreSQL: skip ANALYZE after seeding"
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the PostgreSQL database")
    parser.add_argument("--mlmd-python", default=default_mlmd_python(), help="interpreter with ml-metadata")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where the JSON results go")
    args = parser.parse_args(argv)
    kinds = [kind.strip() for kind in args.db.split(",") if kind.strip()]
    if not kinds or set(kinds) - {"postgresql", "sqlite"}:
        parser.error("--db takes postgresql, sqlite or both")

    report: dict[str, Any] = {}
    if args.output.exists():
        try:
            report = json.loads(args.output.read_text())
        except json.JSONDecodeError:
            report = {}
    report.update(bench="concurrency_bench", host={"platform": platform.platform(), "cpus": os.cpu_count()})
    report.setdefault("results", {})
    status = 0
    for kind in kinds:
        print(f"{kind}: {args.clients} clients × {args.duration:g} s …", file=sys.stderr, flush=True)
        try:
            result = run_one(kind, args)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            print(f"\n{kind} FAILED: {exc}")
            status = 2
            continue
        report["results"][kind] = result
        overall = result["rows"][-1]
        print(
            f"\n{result['database']}: {args.clients} client processes (ml-metadata {args.mlmd_python}), "
            f"{args.duration:g} s, one mlineage serve; load average {result['loadavg_before'][0]:.2f} → "
            f"{result['loadavg_after'][0]:.2f} on {os.cpu_count()} CPUs; server CPU "
            f"{result['server_cpu_s'] or 0:.1f} s; ABORTED retries {result['aborted_attempts']}"
        )
        print(render(result["rows"]))
        for sample in result["error_samples"]:
            print(f"  error: {sample}")
        if overall["errors"]:
            status = max(status, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults: {args.output}")
    return status


if __name__ == "__main__":
    sys.exit(main())
