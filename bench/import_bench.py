"""Import speed: `mlineage import-mlmd` from an MLMD SQLite database built by the real client, against MLMD's own write.

The source is built by ``bench/import_source.py`` under the ml-metadata
environment (a pipeline-shaped store of about ``--nodes`` nodes with their
properties, events, attributions and associations); the seconds MLMD took to
write it are the anchor. The import (``mlineage.metadata.mlmd_import``, the
command's library call) then copies it into a fresh mlineage database (SQLite by
default, ``--postgres URL`` for a new PostgreSQL database) and is timed.
Printed: nodes/s of the import (goal >= 20,000), and the ratio of the import's
time to MLMD's writing of the same records, both measured in this run.

    python bench/import_bench.py [--nodes 100000] [--source PATH] [--postgres URL] [--batch-size N]

``--source PATH`` reuses a source an earlier run kept (``--keep``); its anchor is
read from ``PATH.json``. For the issue's figure: ``--nodes 1000000``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path[:0] = [str(REPO_ROOT)]

from sqlalchemy import create_engine, text  # noqa: E402

from mlineage.metadata.engine import normalize_url  # noqa: E402
from mlineage.metadata.mlmd_import import DEFAULT_BATCH_SIZE, import_mlmd  # noqa: E402
from mlineage.metadata.store import Store  # noqa: E402

GOAL_NODES_PER_S = 20_000
DEFAULT_OUTPUT = BENCH_DIR / "results" / "import_bench.json"


def build_source(python: str, path: Path, nodes: int) -> dict:
    """Build the MLMD source; its counts and MLMD's write seconds (kept beside it as PATH.json)."""
    result = subprocess.run(
        [python, str(BENCH_DIR / "import_source.py"), str(path), str(nodes)], capture_output=True, text=True
    )
    if result.returncode:
        sys.exit(f"building the MLMD source failed:\n{result.stderr[-3000:]}")
    built = json.loads(result.stdout.strip().splitlines()[-1])
    Path(f"{path}.json").write_text(json.dumps(built))
    return built


def new_postgres_database(server_url: str) -> str:
    name = f"mlineage_import_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalize_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return normalize_url(server_url).rpartition("/")[0] + f"/{name}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--source", type=Path, help="an MLMD SQLite source kept by an earlier run (--keep)")
    parser.add_argument("--keep", action="store_true", help="keep the built source (its path is printed)")
    parser.add_argument("--postgres", help="import into a new database on this PostgreSQL server")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--mlmd-python", default=os.environ.get("MLINEAGE_MLMD_PYTHON")
                        or str(REPO_ROOT / ".venvs" / "mlmd" / "bin" / "python"))  # fmt: skip
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="import_bench_"))
    if args.source:
        source = args.source
        built = json.loads(Path(f"{source}.json").read_text())
    else:
        source = work / "mlmd.db"
        built = build_source(args.mlmd_python, source, args.nodes)
    nodes = built["artifacts"] + built["executions"] + built["contexts"]
    records = nodes + built["events"] + built["artifacts"] + built["executions"]  # + attributions, associations
    target = new_postgres_database(args.postgres) if args.postgres else f"sqlite:///{work / 'mlineage.db'}"
    store = Store(target)
    try:
        started = time.perf_counter()
        summary = import_mlmd(f"sqlite:///{source}", store, batch_size=args.batch_size)
        seconds = time.perf_counter() - started
    finally:
        store.close()
    imported_nodes = sum(summary.tallies[s].imported for s in ("artifacts", "executions", "contexts"))
    if imported_nodes != nodes:
        print(f"error: imported {imported_nodes} nodes of {nodes}", file=sys.stderr)
        return 2
    rate = nodes / seconds
    ratio = seconds / built["seconds"]
    verdict = "PASS" if rate >= GOAL_NODES_PER_S else "FAIL"
    backend = "postgresql" if args.postgres else "sqlite"
    print(f"source: {nodes} nodes, {built['events']} events, {records - nodes - built['events']} links "
          f"(MLMD wrote them in {built['seconds']:.2f}s)")  # fmt: skip
    print(f"import into {backend}: {seconds:.2f}s, {rate:,.0f} nodes/s ({records / seconds:,.0f} records/s), "
          f"goal >= {GOAL_NODES_PER_S:,} nodes/s: {verdict}")  # fmt: skip
    print(f"ratio import / MLMD's own write of the same records: {ratio:.2f}")
    # The build ran in a subprocess: this process's peak is the import's (memory flat in source size).
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of the importing process: {peak_mib:.0f} MiB")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "nodes": nodes, "records": records, "backend": backend, "batch_size": args.batch_size,
        "import_s": seconds, "nodes_per_s": rate, "mlmd_write_s": built["seconds"], "ratio": ratio,
        "verdict": verdict, "peak_rss_mib": peak_mib,
    }, indent=1))  # fmt: skip
    if args.keep and not args.source:
        print(f"source kept at {source} (rerun with --source {source})")
        (work / "mlineage.db").unlink(missing_ok=True)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
