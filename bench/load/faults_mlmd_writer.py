"""A writer for the fault suite (bench/load/faults.py) that uses the real ml-metadata client, as a KFP launcher does.

Run under the ml-metadata environment's python (it imports nothing of mlineage). It writes one named
artifact per call (``put_artifacts``), reads it back by id, and retries a write that failed with a
status that says "try again" (UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, RESOURCE_EXHAUSTED), as a KFP
launcher retries its MLMD calls. A retried write answered ALREADY_EXISTS was stored by an earlier
attempt whose answer was lost: it counts as acknowledged once. It stops when the stop file appears.

stdout: one line ``ACK <name> <seconds> <attempts>`` per acknowledged write (flushed at once, so a writer that is
killed still reported what it had), then one JSON line ``{"codes": {...}}``: every answer it got, OK
included, by gRPC code name, reads and writes together.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from ml_metadata import errors
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as mlmd

RETRYABLE = (
    errors.UnavailableError,
    errors.DeadlineExceededError,
    errors.AbortedError,
    errors.ResourceExhaustedError,
)
TYPE_NAME = "FaultLoadArtifact"


def code_name(exc: Exception) -> str:
    """MLMD's error class as its gRPC code name: UnavailableError -> UNAVAILABLE."""
    name = type(exc).__name__.removesuffix("Error")
    spaced = "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(name))
    return spaced.upper() or "UNKNOWN"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True, help="host:port of an mlineage serve")
    parser.add_argument("--tag", required=True, help="prefix of this writer's artifact names")
    parser.add_argument("--stop-file", required=True)
    parser.add_argument("--pause", type=float, default=0.02, help="seconds between writes")
    parser.add_argument("--call-timeout", type=int, default=5)
    parser.add_argument("--give-up", type=float, default=60.0, help="seconds one write is retried at most")
    args = parser.parse_args()
    host, _, port = args.target.rpartition(":")
    config = mlmd.MetadataStoreClientConfig(host=host, port=int(port), client_timeout_sec=args.call_timeout)
    store = metadata_store.MetadataStore(config)
    codes: dict[str, int] = {}

    def count(code: str) -> None:
        codes[code] = codes.get(code, 0) + 1

    def call(function, *call_args):
        """One call, retried while it says "try again" (and the stop file is absent); its answer."""
        deadline = time.monotonic() + args.give_up
        attempts = 0
        while True:
            attempts += 1
            try:
                answer = function(*call_args)
                count("OK")
                return answer, attempts
            except errors.AlreadyExistsError as exc:
                count(code_name(exc))
                if attempts == 1:
                    raise
                return None, attempts  # an earlier attempt stored it; its answer was lost
            except RETRYABLE as exc:
                count(code_name(exc))
                if time.monotonic() > deadline:
                    raise
                time.sleep(min(0.05 * attempts, 0.5))
            except errors.StatusError as exc:  # not worth a retry (INTERNAL among them): counted, raised
                count(code_name(exc))
                raise

    type_id, _ = call(store.put_artifact_type, mlmd.ArtifactType(name=TYPE_NAME))
    index = 0
    while not os.path.exists(args.stop_file):
        name = f"{args.tag}-{index}"
        index += 1
        artifact = mlmd.Artifact(type_id=type_id, name=name, uri=f"load://{name}")
        artifact.custom_properties["fault_tag"].string_value = name
        started = time.monotonic()
        try:
            ids, attempts = call(store.put_artifacts, [artifact])
        except errors.StatusError:  # counted by call(); not acknowledged (a first-attempt conflict included)
            continue
        print(f"ACK {name} {time.monotonic() - started:.4f} {attempts}", flush=True)
        if ids:
            try:
                call(store.get_artifacts_by_id, ids)
            except errors.StatusError:
                pass
        time.sleep(args.pause)
    print(json.dumps({"codes": codes}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
