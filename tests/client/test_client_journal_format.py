"""Journals written by an earlier client replay to the same store: the record format on disk is kept.

``data/journal_v1/`` holds a segment written by the client before its records
became dataclasses (lists encoded by ``records.encode``), including an execution
record of the oldest form (no name); ``data/journal_v1_expected.json`` is the
store that segment produced then, ids and clock times left out.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from paths import DATA

import mlineage
from mlineage.client import journal
from mlineage.client import records as rec
from mlineage.client.records import from_value
from mlineage.metadata import metrics
from mlineage.proto import metadata_store_pb2 as pb

SEGMENT = DATA / "journal_v1" / "01764547200000000000-4242-0badcafe.jsonl"
EXPECTED = DATA / "journal_v1_expected.json"


def _props(node) -> dict:
    return {
        "properties": {k: from_value(v) for k, v in sorted(node.properties.items())},
        "custom_properties": {k: from_value(v) for k, v in sorted(node.custom_properties.items())},
    }


def _types(store) -> dict:
    return {
        group: sorted([t.name, sorted(t.properties.items())] for t in types if t.name[:4] != "mlmd")
        for group, types in (("artifact_types", store.get_artifact_types()),
                             ("execution_types", store.get_execution_types()),
                             ("context_types", store.get_context_types()))
    }


def store_contents(store) -> dict:
    """Everything the replay wrote, named by external ids and type names (no ids, no clock times)."""
    type_names = {t.id: t.name for group in (store.get_artifact_types(), store.get_execution_types(),
                                              store.get_context_types()) for t in group}
    artifacts = {a.id: a for a in store.get_artifacts()}
    executions = {e.id: e for e in store.get_executions()}
    contexts = {c.id: c for c in store.get_contexts()}
    events = store.get_events_by_execution_ids(sorted(executions)) if executions else []
    series = metrics.get_metric_series(store, sorted(executions), ())
    return {
        "types": _types(store),
        "contexts": sorted(
            [c.external_id, type_names[c.type_id], c.name, _props(c),
             sorted(contexts[p.id].external_id for p in store.get_parent_contexts_by_context(c.id)),
             sorted(a.external_id for a in store.get_artifacts_by_context(c.id)),
             sorted(e.external_id for e in store.get_executions_by_context(c.id))]
            for c in contexts.values()
        ),
        "executions": sorted(
            [e.external_id, type_names[e.type_id], e.name, pb.Execution.State.Name(e.last_known_state), _props(e)]
            for e in executions.values()
        ),
        "artifacts": sorted(
            [a.external_id, type_names[a.type_id], a.uri, pb.Artifact.State.Name(a.state), _props(a)]
            for a in artifacts.values()
        ),
        "events": sorted(
            [artifacts[v.artifact_id].external_id, executions[v.execution_id].external_id,
             pb.Event.Type.Name(v.type),
             [s.key if s.WhichOneof("value") == "key" else s.index for s in v.path.steps]]
            for v in events
        ),
        "metric_series": sorted(
            [executions[s.execution_id].external_id, s.name, list(s.seq), list(s.step),
             [None if math.isnan(x) else x for x in s.value], list(s.timestamp_ms)]
            for s in series
        ),
    }


def _replay(store_url: str, tmp_path: Path) -> dict:
    directory = tmp_path / "journal"
    directory.mkdir()
    shutil.copy(SEGMENT, directory / SEGMENT.name)
    reports = list(journal.flush(directory, store_factory=lambda _url: mlineage.connect(store_url)))
    assert [(r.sent, r.error) for r in reports] == [(22, None)]
    assert not (directory / (SEGMENT.name + ".dead")).exists()
    store = mlineage.connect(store_url)
    try:
        return json.loads(json.dumps(store_contents(store)))
    finally:
        store.close()


def test_a_journal_segment_of_the_list_format_replays_to_the_same_store(store_url, tmp_path):
    assert _replay(store_url, tmp_path) == json.loads(EXPECTED.read_text())


def test_decoded_records_encode_to_the_same_lines(tmp_path):
    """Every line of the old segment decodes and encodes back byte for byte."""
    lines = SEGMENT.read_bytes().splitlines(keepends=True)[1:]
    assert [rec.encode(rec.decode(line)) for line in lines] == lines


def test_decoded_records_name_their_fields():
    lines = SEGMENT.read_bytes().splitlines()[1:]
    oldest, artifact = rec.decode(lines[2]), rec.decode(lines[5])
    assert oldest == rec.ExecutionRecord("exe-trainer-0001", "Trainer", "NEW", {"started_at_ms": 1748736001000},
                                         ["mlineage:pipeline:taxi", "mlineage:pipeline_run:taxi/2025-06-01"])
    assert oldest.name is None
    assert (artifact.key, artifact.reuse, artifact.execution_key, artifact.event_key, artifact.known_id) == (
        "art-examples", "uri", "exe-trainer-0001", "examples", None)
    assert isinstance(rec.decode(b'["zz",1]'), rec.UnknownRecord)


def test_a_record_of_an_unknown_kind_is_set_aside_as_written(tmp_path):
    directory = tmp_path / "journal"
    url = f"sqlite:///{tmp_path / 'unknown.db'}"
    writer = journal.SegmentWriter(journal.journal_dir(directory), url)
    writer.append(rec.encode(rec.ContextRecord("p", "pipeline", "unknown-kinds")))
    writer.append(b'["zz","from-a-newer-client",{"a":1}]\n')
    writer.close()
    assert [(r.sent, r.error) for r in journal.flush(directory)] == [(2, None)]
    [dead] = [json.loads(line) for line in open(next(directory.glob("*.dead")))]
    assert dead["record"] == '["zz","from-a-newer-client",{"a":1}]'
    assert dead["error"].startswith("InvalidArgumentError: unknown journal record kind 'zz'")
    store = mlineage.connect(url)
    assert [c.name for c in store.get_contexts()] == ["unknown-kinds"]
    store.close()
