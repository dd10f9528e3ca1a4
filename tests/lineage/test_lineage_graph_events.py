"""Events of a lineage answer built from rows: the same messages whether appended to a graph or to a
repeated field, cached or not (a row with a memoryview, as some drivers give blobs, is not cached)."""

from __future__ import annotations

from google.protobuf import any_pb2

from mlineage.metadata.lineage_engine.graph import add_events
from mlineage.proto import metadata_store_pb2 as pb


def _expected() -> list[pb.Event]:
    metadata = any_pb2.Any(type_url="type.googleapis.com/x", value=b"\x08\x01")
    first = pb.Event(artifact_id=1, execution_id=2, type=pb.Event.OUTPUT, milliseconds_since_epoch=7)
    first.path.steps.add().key = "model"
    first.path.steps.add().index = 3
    second = pb.Event(artifact_id=4, execution_id=2, type=pb.Event.INPUT)
    second.system_metadata.CopyFrom(metadata)
    return [first, second]


def _rows(blob) -> list[tuple]:
    metadata = _expected()[1].system_metadata.SerializeToString()
    return [
        (10, 1, 2, pb.Event.OUTPUT, '[{"key":"model"},{"index":3}]', 7, None),
        (11, 4, 2, pb.Event.INPUT, None, None, blob(metadata)),
    ]


def test_events_from_rows_are_the_same_messages_in_a_graph_and_in_a_repeated_field() -> None:
    for blob in (bytes, memoryview):
        for _ in range(2):  # built, then (bytes rows) from the cache
            graph = pb.LineageGraph()
            add_events(graph, _rows(blob))
            assert list(graph.events) == _expected()
            field = pb.LineageGraph()
            field.events.add(artifact_id=99)
            add_events(field.events, _rows(blob))
            assert list(field.events)[1:] == _expected() and field.events[0].artifact_id == 99
