"""/metrics with --read-db: the standby's pool gauges beside the primary's, and the routed-read counters
(reads the standby served, reads the primary served, read-your-writes waits) move as reads are routed.

On the real primary and streaming standby of tests/metadata/test_read_replica.py (its cluster fixture).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_read_replica import Cluster, cluster  # noqa: F401 - the primary and standby fixture

from mlineage.api import metrics
from mlineage.metadata import history
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb


def _samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.exposition()[0].decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
def watched(cluster: Cluster) -> Iterator[Store]:  # noqa: F811 - the imported fixture
    opened = Store(cluster.url(cluster.primary_port), read_db=cluster.url(cluster.standby_port))
    metrics.watch_store(opened)
    try:
        yield opened
    finally:
        metrics.watch_store(None)
        opened.close()


ROUTED = "mlineage_replica_routed_reads_total"
WAITS = ("mlineage_replica_read_your_writes_waits_total", ())


def test_routed_reads_and_read_your_writes_waits_are_counted(watched: Store) -> None:
    type_id = watched.put_artifact_type(pb.ArtifactType(name="Counted"))
    with history.calling_as("grpc", peer="metrics-writer:1"):
        watched.put_artifacts([pb.Artifact(type_id=type_id, name="counted", uri="/c")])
    before = _samples()
    assert before[("mlineage_db_pool_size", (("engine", "replica"),))] == 10  # the shipped default pool
    assert ("mlineage_db_pool_checked_out", (("engine", "primary"),)) in before
    with history.calling_as("grpc", peer="metrics-reader:2"):  # a caller that has not written: the standby
        deadline = time.monotonic() + 10
        while "counted" not in [a.name for a in watched.get_artifacts()]:
            assert time.monotonic() < deadline, "the standby did not replay the write"
            time.sleep(0.05)
    read = _samples()
    assert read[(ROUTED, (("served_by", "replica"),))] > before[(ROUTED, (("served_by", "replica"),))]
    assert read[WAITS] == before[WAITS]
    with history.calling_as("grpc", peer="metrics-writer:1"):  # the writer again, within its window
        watched.put_artifacts([pb.Artifact(type_id=type_id, name="counted-2", uri="/c2")])
        assert "counted-2" in [a.name for a in watched.get_artifacts()]
    after = _samples()
    assert after[WAITS] == read[WAITS] + 1
    served = sum(after[(ROUTED, ((("served_by", by),)))] for by in ("replica", "primary"))
    assert served == sum(read[(ROUTED, ((("served_by", by),)))] for by in ("replica", "primary")) + 1
