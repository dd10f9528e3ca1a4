"""Time mlineage's Python store against MLMD's, side by side, on the same workload in one run.

Each round runs ``store_worker.py`` twice: under the ml-metadata venv's interpreter
against ``ml_metadata.MetadataStore`` (in-process, SQLite) and under this interpreter
against ``mlineage.connect("sqlite:///...")``. Both execute ``store_workload.py``
unchanged. The table shows the median seconds per phase over the rounds and the ratio
mlineage/MLMD against the goal; the full results go to ``bench/results/store_bench.json``.

With ``--mysql URL`` (a MySQL/MariaDB server; default $MLINEAGE_TEST_MYSQL_URL) each round
also runs the workload on that server: MLMD in-process on a new database there (its own
MySQL backend) and mlineage on another, and a second table shows that pair's ratio.

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
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WORKER = BENCH_DIR / "store_worker.py"
DEFAULT_OUTPUT = BENCH_DIR / "results" / "store_bench.json"
BACKENDS = ("mlmd", "mlineage")
MYSQL_BACKENDS = ("mlmd-mysql", "mlineage-mysql")
GOAL_RATIO = 1.5


def default_mlmd_python() -> str:
    return os.environ.get("MLINEAGE_MLMD_PYTHON") or str(REPO_ROOT / ".venvs" / "mlmd" / "bin" / "python")


def run_worker(
    backend: str, python: str, args: argparse.Namespace, extra: list[str] | None = None
) -> dict[str, Any]:
    """One workload run in a subprocess; failures come back as ``{"error": ...}``, never raised."""
    command = [python, str(WORKER), "--backend", backend, "--artifacts", str(args.artifacts)]
    command += ["--repeat", str(args.repeat), *(extra or [])]
    env = dict(os.environ)
    if backend.startswith("mlineage"):  # import this checkout's mlineage even where it is not installed
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    try:
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=args.timeout)
    except FileNotFoundError:
        return {"error": f"interpreter not found: {python}"}
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.timeout}s"}
    lines = proc.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        result = {"error": f"worker exited {proc.returncode} without a result"}
    if "error" in result:
        result["stderr_tail"] = proc.stderr.strip().splitlines()[-25:]
    return result


def median_phases(runs: list[dict[str, Any]]) -> dict[str, dict[str, float | int]]:
    """Per phase: median seconds over the successful rounds, with the op counts of the first."""
    phases: dict[str, dict[str, float | int]] = {}
    if not runs:
        return phases
    for name, first in runs[0]["phases"].items():
        seconds = statistics.median(run["phases"][name]["seconds"] for run in runs)
        phases[name] = {"seconds": seconds, "calls": first["calls"], "items": first["items"]}
    phases["connect"] = {
        "seconds": statistics.median(run["connect_seconds"] for run in runs),
        "calls": 1,
        "items": 1,
    }
    return phases


def compare(
    mlmd: dict[str, dict[str, Any]], mine: dict[str, dict[str, Any]], goal: float
) -> list[dict[str, Any]]:
    """One row per phase; ``connect`` and ``total`` are shown but not judged."""
    names = list(mlmd or mine)
    workload = [name for name in names if name != "connect"]
    totals = {}
    for label, phases in (("mlmd", mlmd), ("mlineage", mine)):
        totals[label] = sum(phases[n]["seconds"] for n in workload) if phases else None
    rows = []
    for name in [*workload, "total", "connect"]:
        source = mlmd or mine
        counts = source.get(name, {"calls": None, "items": None})
        a = totals["mlmd"] if name == "total" else mlmd.get(name, {}).get("seconds")
        b = totals["mlineage"] if name == "total" else mine.get(name, {}).get("seconds")
        ratio = b / a if a and b is not None else None
        judged = name not in ("total", "connect")
        verdict = None if not judged or ratio is None else ratio <= goal
        rows.append(
            {
                "phase": name,
                "calls": counts["calls"],
                "items": counts["items"],
                "mlmd_seconds": a,
                "mlineage_seconds": b,
                "ratio": ratio,
                "judged": judged,
                "pass": verdict,
            }
        )
    return rows


def render_table(rows: list[dict[str, Any]], goal: float, label: str = "mlineage s") -> str:
    def seconds(value: float | None) -> str:
        return "—" if value is None else f"{value:.4f}"

    header = ("phase", "calls", "items", "MLMD s", label, "ratio", f"goal ≤{goal:g}×")
    body = []
    for row in rows:
        if not row["judged"]:
            verdict = "(info)"
        else:
            verdict = {True: "PASS", False: "FAIL", None: "n/a"}[row["pass"]]
        ratio = "—" if row["ratio"] is None else f"{row['ratio']:.2f}×"
        calls = "" if row["calls"] is None or row["phase"] == "total" else str(row["calls"])
        items = "" if row["items"] is None or row["phase"] == "total" else str(row["items"])
        body.append(
            (
                row["phase"],
                calls,
                items,
                seconds(row["mlmd_seconds"]),
                seconds(row["mlineage_seconds"]),
                ratio,
                verdict,
            )
        )
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    left = {0}

    def fmt(line: tuple[str, ...]) -> str:
        return "  ".join(
            cell.ljust(w) if i in left else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(line) for line in body)])


def _mysql_database(server_url: str, backend: str) -> tuple[str, Any]:
    """A new database on the MySQL server for one run: (its URL, a function that drops it)."""
    import uuid

    from sqlalchemy import create_engine, text

    name = f"store_bench_{backend.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    from mlineage.metadata.engine import normalize_url

    url = normalize_url(server_url)  # mysql:// -> mysql+pymysql://
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}`"))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()

    return f"{url.rpartition('/')[0]}/{name}", drop


def git_commit() -> str | None:
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


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
    parser.add_argument(
        "--goal", type=float, default=GOAL_RATIO, help="largest acceptable mlineage/MLMD ratio"
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed per workload run")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where the JSON results go")
    parser.add_argument("--verbose", action="store_true", help="show a failing worker's traceback")
    parser.add_argument("--mysql", default=os.environ.get("MLINEAGE_TEST_MYSQL_URL"),
                        help="MySQL/MariaDB server URL for the MySQL pair (default $MLINEAGE_TEST_MYSQL_URL; "
                        "none: SQLite only)")
    args = parser.parse_args(argv)

    pythons = {"mlmd": args.mlmd_python, "mlineage": sys.executable,
               "mlmd-mysql": args.mlmd_python, "mlineage-mysql": sys.executable}
    measured = BACKENDS + (MYSQL_BACKENDS if args.mysql else ())
    runs: dict[str, list[dict[str, Any]]] = {backend: [] for backend in measured}
    errors: dict[str, dict[str, Any]] = {}
    for round_number in range(1, args.rounds + 1):
        for backend in measured:
            if backend in errors:
                continue
            print(f"round {round_number}/{args.rounds}: {backend} …", file=sys.stderr, flush=True)
            if backend in MYSQL_BACKENDS:
                url, drop = _mysql_database(args.mysql, backend)
                try:
                    result = run_worker(backend, pythons[backend], args, ["--db", url])
                finally:
                    drop()
            else:
                result = run_worker(backend, pythons[backend], args)
            if "error" in result:
                errors[backend] = result
            else:
                runs[backend].append(result)

    mlmd, mine = median_phases(runs["mlmd"]), median_phases(runs["mlineage"])
    rows = compare(mlmd, mine, args.goal)
    env = {backend: (runs[backend] or [errors.get(backend, {})])[0].get("env") for backend in measured}
    print(f"\nstore bench: N={args.artifacts} artifacts, R={args.repeat}, median of {args.rounds} round(s)")
    for backend in measured:
        print(f"  {backend}: {pythons[backend]}  {json.dumps(env[backend])}")
    print()
    print(render_table(rows, args.goal))
    mysql_rows: list[dict[str, Any]] = []
    if args.mysql:
        mysql_rows = compare(median_phases(runs["mlmd-mysql"]), median_phases(runs["mlineage-mysql"]), args.goal)
        print("\non MySQL/MariaDB (both in-process, each on a new database of the same server):")
        print(render_table(mysql_rows, args.goal, label="mlineage-mysql s"))
    for backend, failure in errors.items():
        print(f"\n{backend} FAILED: {failure['error']}")
        if args.verbose:
            print("\n".join(f"    {line}" for line in failure.get("stderr_tail", [])))
        else:
            print("  (rerun with --verbose for the worker's traceback)")

    report = {
        "bench": "store_bench",
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "params": {
            "artifacts": args.artifacts,
            "repeat": args.repeat,
            "rounds": args.rounds,
            "goal_ratio": args.goal,
        },
        "interpreters": pythons,
        "env": env,
        "phases": rows,
        "mysql_phases": mysql_rows,
        "runs": runs,
        "errors": errors,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults: {args.output}")

    if errors:
        return 2
    return 0 if all(row["pass"] is not False for row in [*rows, *mysql_rows]) else 1


if __name__ == "__main__":
    sys.exit(main())
