"""Build an MLMD SQLite database of about N nodes with the real ml-metadata client (run under its venv).

    python bench/import_source.py PATH NODES

A pipeline-shaped store: steps of one execution reading the previous step's
artifact and writing two new ones (three nodes, three events, two attributions,
one association each), a pipeline-run context per thousand steps, properties on
every node. Written in batches through ``MetadataStore``'s public calls; prints
one JSON line with the counts and the seconds MLMD took to write them, the
anchor ``bench/import_bench.py`` compares the import with.
"""

from __future__ import annotations

import json
import sys
import time

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2 as mlmd

BATCH_STEPS = 1000


def main() -> int:
    path, nodes = sys.argv[1], int(sys.argv[2])
    config = mlmd.ConnectionConfig()
    config.sqlite.filename_uri = path
    config.sqlite.connection_mode = 3
    store = metadata_store.MetadataStore(config)
    started = time.perf_counter()
    data_t = mlmd.ArtifactType(name="Examples")
    data_t.properties["span"] = mlmd.INT
    data_t.properties["split"] = mlmd.STRING
    data_tid = store.put_artifact_type(data_t)
    step_t = mlmd.ExecutionType(name="Step")
    step_t.properties["component"] = mlmd.STRING
    step_tid = store.put_execution_type(step_t)
    run_tid = store.put_context_type(mlmd.ContextType(name="pipeline_run"))
    steps = max(1, nodes // 3)
    previous: int | None = None
    counts = {"artifacts": 0, "executions": 0, "contexts": 0, "events": 0}
    for first in range(0, steps, BATCH_STEPS):
        batch = range(first, min(steps, first + BATCH_STEPS))
        [run_id] = store.put_contexts([mlmd.Context(type_id=run_tid, name=f"run-{first // BATCH_STEPS}")])
        executions = []
        for i in batch:
            e = mlmd.Execution(type_id=step_tid, last_known_state=mlmd.Execution.COMPLETE, name=f"step-{i}")
            e.properties["component"].string_value = f"component-{i % 7}"
            executions.append(e)
        execution_ids = store.put_executions(executions)
        artifacts = []
        for i in batch:
            for split in ("train", "eval"):
                a = mlmd.Artifact(type_id=data_tid, uri=f"/data/{i}/{split}", state=mlmd.Artifact.LIVE)
                a.properties["span"].int_value = i
                a.properties["split"].string_value = split
                a.custom_properties["rows"].int_value = 1000 + i
                artifacts.append(a)
        artifact_ids = store.put_artifacts(artifacts)
        events = []
        for n, execution_id in enumerate(execution_ids):
            if previous is not None:
                event = mlmd.Event(artifact_id=previous, execution_id=execution_id, type=mlmd.Event.INPUT)
                event.path.steps.add().key = "examples"
                events.append(event)
            for k in (0, 1):
                event = mlmd.Event(artifact_id=artifact_ids[2 * n + k], execution_id=execution_id,
                                   type=mlmd.Event.OUTPUT)  # fmt: skip
                event.path.steps.add().key = "output"
                event.path.steps.add().index = k
                events.append(event)
            previous = artifact_ids[2 * n]
        store.put_events(events)
        store.put_attributions_and_associations(
            [mlmd.Attribution(artifact_id=a, context_id=run_id) for a in artifact_ids],
            [mlmd.Association(execution_id=e, context_id=run_id) for e in execution_ids],
        )
        counts["artifacts"] += len(artifact_ids)
        counts["executions"] += len(execution_ids)
        counts["contexts"] += 1
        counts["events"] += len(events)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, **counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
