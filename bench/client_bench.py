"""What a logging call costs the step's thread with a remote server, and how fast the journal is sent.

    python bench/client_bench.py [--records 50000] [--url grpc://host:port]

Without --url it starts `mlineage serve` on a temporary SQLite file. Phases:

1. ``log_metric`` calls on the step's thread while the sender runs: median and
   p99 of each call (goal: under 50 µs), then how long until the server holds
   them all (records/s end to end).
2. A mixed step (metrics, params, outputs) the same way.
3. Drain: records already in a journal (written while the server was away),
   sent by ``journal.flush``: records/s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mlineage  # noqa: E402
from mlineage.client import journal  # noqa: E402


def start_server(db_url: str) -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "mlineage.cli", "serve", "--db", db_url, "--create", "--host", "127.0.0.1",
         "--grpc-port", str(port), "--http-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "MLINEAGE_LOG_LEVEL": "WARNING"},
    )
    for line in process.stdout:
        if "mlineage: gRPC on" in line:
            break
    return process, f"grpc://127.0.0.1:{port}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, durations_ns: list[int], records: int, sent_s: float) -> None:
    micro = [d / 1000 for d in durations_ns]
    print(f"{name:<28} calls={len(micro):>7}  median={statistics.median(micro):6.2f} µs  "
          f"p99={percentile(micro, 0.99):7.2f} µs  max={max(micro):9.1f} µs  "
          f"sent {records} records in {sent_s:6.2f} s = {records / sent_s:9.0f} records/s")


def metrics_phase(url: str, count: int) -> None:
    durations = []
    with mlineage.run("bench", url=url) as run:
        with run.step("Trainer") as step:
            started = time.perf_counter()
            for i in range(count):
                t0 = time.perf_counter_ns()
                step.log_metric("loss", 1.0 / (i + 1), step=i)
                durations.append(time.perf_counter_ns() - t0)
        assert run.flush(600)
        elapsed = time.perf_counter() - started
    report("log_metric", durations, count, elapsed)


def mixed_phase(url: str, count: int) -> None:
    durations = []
    with mlineage.run("bench", url=url) as run:
        with run.step("Trainer") as step:
            started = time.perf_counter()
            for i in range(count):
                t0 = time.perf_counter_ns()
                if i % 10 == 9:
                    step.output("Shard", f"gs://bench/{i}", index=i)
                elif i % 100 == 0:
                    step.log_param(f"p{i}", i)
                else:
                    step.log_metric("loss", float(i))
                durations.append(time.perf_counter_ns() - t0)
        assert run.flush(600)
        elapsed = time.perf_counter() - started
    report("mixed (metric/param/output)", durations, count, elapsed)


def drain_phase(url: str, count: int, directory: Path) -> None:
    from mlineage.client.records import encode

    writer = journal.SegmentWriter(directory, url)
    key = "drain-" + str(time.time_ns())
    writer.append(encode(["ctx", f"{key}-p", "pipeline", key, {}, None]))
    writer.append(encode(["exe", f"{key}-e", "Trainer", "RUNNING", {}, [f"{key}-p"]]))
    for i in range(1, count + 1):
        writer.append(encode(["m", f"{key}-e", "loss", i, i, float(i), 1000 + i]))
    writer.close()
    started = time.perf_counter()
    results = list(journal.flush(directory, url))
    elapsed = time.perf_counter() - started
    sent = sum(r[1] for r in results)
    print(f"{'drain (journal flush)':<28} sent {sent} records in {elapsed:6.2f} s = {sent / elapsed:9.0f} records/s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--url", help="an already running server (grpc://host:port)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MLINEAGE_JOURNAL_DIR"] = str(Path(tmp) / "journal")
        process = None
        url = args.url
        if url is None:
            process, url = start_server(f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            print(f"server {url}, {args.records} records per phase, Python {sys.version.split()[0]}")
            metrics_phase(url, args.records)
            mixed_phase(url, args.records)
            drain_phase(url, args.records, journal.journal_dir(Path(tmp) / "drain"))
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
