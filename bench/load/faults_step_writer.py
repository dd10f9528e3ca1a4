"""A writer for the fault suite (bench/load/faults.py) that logs through mlineage's step client and its journal.

Each iteration is one pipeline run with one step that writes one output artifact tagged with a unique
``fault_tag``. A record is acknowledged once ``step.output`` returned: the step client has it in its
journal (``$MLINEAGE_JOURNAL_DIR``) and owes it to the server, outage or not. stdout: ``ACK <tag> <seconds>``
per record, flushed at once. It stops when the stop file appears; what the journal still holds is
sent by ``mlineage journal flush`` afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import mlineage


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="grpc://host:port of an mlineage serve")
    parser.add_argument("--tag", required=True)
    parser.add_argument("--stop-file", required=True)
    parser.add_argument("--pause", type=float, default=0.02)
    args = parser.parse_args()
    index = 0
    while not os.path.exists(args.stop_file):
        tag = f"{args.tag}-{index}"
        index += 1
        started = time.monotonic()
        with mlineage.run("fault-load", run_id=tag, url=args.url) as run, run.step("Produce") as step:
            step.output("FaultLoadStepOutput", uri=f"step://{tag}", fault_tag=tag)
            print(f"ACK {tag} {time.monotonic() - started:.4f}", flush=True)
        time.sleep(args.pause)
    return 0


if __name__ == "__main__":
    sys.exit(main())
