"""First-use costs: a fresh process's `import` + `connect`, and its first filter queries, mlineage vs MLMD.

    python bench/startup_bench.py [--runs 7]

Both run in-process on a SQLite file that already holds 3 artifacts at the current
schema; MLMD through the ml-metadata environment's python ($MLINEAGE_MLMD_PYTHON,
default .venvs/mlmd/bin/python). Each figure is the median over --runs fresh
interpreters, measured in the same run, with the ratio mlineage / MLMD:

(a) ``import`` + ``connect``, wall time of the whole interpreter run minus an empty one's;
(b) the first filter query of a process (``get_artifacts`` with a filter_query);
(c) then a new filter text; (d) then the first text again.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
QUERIES = ("id > 0 AND uri LIKE '/s/%'", "id >= 2 OR uri = '/s/0'")

MLINEAGE_SETUP = """
import mlineage
from mlineage import ListOptions
from mlineage.proto import metadata_store_pb2 as pb
store = mlineage.connect("sqlite:///{path}")
"""
MLMD_SETUP = """
from ml_metadata.metadata_store import metadata_store
from ml_metadata.metadata_store import ListOptions
from ml_metadata.proto import metadata_store_pb2 as pb
config = pb.ConnectionConfig()
config.sqlite.filename_uri = "{path}"
config.sqlite.connection_mode = 3
store = metadata_store.MetadataStore(config)
"""
POPULATE = """
type_id = store.put_artifact_type(pb.ArtifactType(name="Startup"))
store.put_artifacts([pb.Artifact(type_id=type_id, uri=f"/s/{{i}}") for i in range(3)])
"""
QUERY = """
import json, time
def timed(query):
    start = time.perf_counter()
    found = store.get_artifacts(list_options=ListOptions(filter_query=query))
    assert found, query
    return (time.perf_counter() - start) * 1e3
first, new, repeat = timed({q1!r}), timed({q2!r}), timed({q1!r})
print(json.dumps({{"first": first, "new": new, "repeat": repeat}}))
"""


def mlmd_python() -> str:
    return os.environ.get("MLINEAGE_MLMD_PYTHON") or str(REPO_ROOT / ".venvs" / "mlmd" / "bin" / "python")


def _run(python: str, code: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{python} failed:\n{done.stderr[-2000:]}")
    return elapsed, done.stdout


def measure(sides: dict[str, tuple[str, str, Path]], runs: int) -> dict[str, dict[str, float]]:
    """Medians over ``runs`` fresh interpreters per side: import+connect and the three queries (ms).

    The sides take turns within each round, so both see the same load on the machine.
    """
    for python, setup, path in sides.values():
        _run(python, setup.format(path=path) + POPULATE)  # creates the database at the current schema
    starts: dict[str, list[float]] = {name: [] for name in sides}
    queries: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    for _ in range(runs):
        for name, (python, setup, path) in sides.items():
            empty, _ = _run(python, "pass")
            connected, _ = _run(python, setup.format(path=path))
            starts[name].append((connected - empty) * 1e3)
            _, out = _run(python, setup.format(path=path) + QUERY.format(q1=QUERIES[0], q2=QUERIES[1]))
            queries[name].append(json.loads(out.splitlines()[-1]))
    results = {}
    for name in sides:
        result = {"import+connect": statistics.median(starts[name])}
        for key in ("first", "new", "repeat"):
            result[key] = statistics.median(q[key] for q in queries[name])
        results[name] = result
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per figure (default 7)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        sides = {
            "mlineage": (sys.executable, MLINEAGE_SETUP, Path(scratch) / "mlineage.db"),
            "mlmd": (mlmd_python(), MLMD_SETUP, Path(scratch) / "mlmd.db"),
        }
        results = measure(sides, args.runs)
    ours, theirs = results["mlineage"], results["mlmd"]
    labels = {
        "import+connect": "(a) import + connect",
        "first": "(b) first filter query",
        "new": "(c) a new filter text",
        "repeat": "(d) the first text again",
    }
    print(f"startup_bench: medians of {args.runs} fresh processes, SQLite, in-process")
    print(f"{'':28} {'mlineage ms':>12} {'MLMD ms':>10} {'ratio':>7}")
    for key, label in labels.items():
        print(f"{label:28} {ours[key]:12.2f} {theirs[key]:10.2f} {ours[key] / theirs[key]:7.2f}")


if __name__ == "__main__":
    main()
