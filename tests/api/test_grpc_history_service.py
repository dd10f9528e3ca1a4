"""mlineage.v1.HistoryService against `mlineage serve`: revisions, deletion and MLMD's reads as of a moment.

Snapshots of MLMD's answers taken at moments are compared with ReadAsOf of the same
requests at those moments, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import time

import grpc
import pytest
from grpc_server import mlineage_server

from mlineage import metadata_store_pb2 as pb
from mlineage.proto import history_pb2 as hpb
from mlineage.proto import metadata_store_service_pb2 as svc

MLMD = "/ml_metadata.MetadataStoreService/"
HISTORY = "/mlineage.v1.HistoryService/"


def _call(channel, path: str, request, response_class):
    method = channel.unary_unary(
        path,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response_class.FromString,
    )
    return method(request, timeout=30)


def _mlmd(channel, name: str, request):
    return _call(channel, MLMD + name, request, getattr(svc, f"{name}Response"))


def _as_of(channel, moment, name: str, request):
    answer = _call(
        channel,
        HISTORY + "ReadAsOf",
        hpb.ReadAsOfRequest(as_of=str(moment), method=name, request=request.SerializeToString()),
        hpb.ReadAsOfResponse,
    )
    return getattr(svc, f"{name}Response").FromString(answer.response)


def _moment() -> int:
    time.sleep(0.003)
    moment = time.time_ns() // 1_000_000
    time.sleep(0.003)
    return moment


def test_reads_as_of_moments_answer_the_snapshots_and_deletion_keeps_the_past(store_url):
    with mlineage_server(store_url) as server, grpc.insecure_channel(server.target) as channel:
        type_id = _mlmd(
            channel,
            "PutArtifactType",
            svc.PutArtifactTypeRequest(artifact_type=pb.ArtifactType(name="Model")),
        ).type_id
        [artifact_id] = _mlmd(
            channel,
            "PutArtifacts",
            svc.PutArtifactsRequest(artifacts=[pb.Artifact(type_id=type_id, uri="/m/1")]),
        ).artifact_ids
        by_id = svc.GetArtifactsByIDRequest(artifact_ids=[artifact_id])
        listing = svc.GetArtifactsRequest(options=pb.ListOperationOptions(filter_query="uri = '/m/1'"))
        first = _moment()
        snapshot_1 = (_mlmd(channel, "GetArtifactsByID", by_id), _mlmd(channel, "GetArtifacts", listing))
        artifact = pb.Artifact()
        artifact.CopyFrom(snapshot_1[0].artifacts[0])
        artifact.uri = "/m/2"
        _mlmd(channel, "PutArtifacts", svc.PutArtifactsRequest(artifacts=[artifact]))
        second = _moment()
        snapshot_2 = (_mlmd(channel, "GetArtifactsByID", by_id), _mlmd(channel, "GetArtifacts", listing))
        deleted = _call(
            channel,
            HISTORY + "DeleteNodes",
            hpb.DeleteNodesRequest(kind="artifact", ids=[artifact_id]),
            hpb.DeleteNodesResponse,
        )
        assert deleted.deleted == 1
        assert list(_mlmd(channel, "GetArtifactsByID", by_id).artifacts) == []

        assert _as_of(channel, first, "GetArtifactsByID", by_id) == snapshot_1[0]
        assert _as_of(channel, first, "GetArtifacts", listing) == snapshot_1[1]
        assert _as_of(channel, second, "GetArtifactsByID", by_id) == snapshot_2[0]
        assert _as_of(channel, second, "GetArtifacts", listing) == snapshot_2[1]
        assert [a.uri for a in snapshot_2[0].artifacts] == ["/m/2"] and list(snapshot_2[1].artifacts) == []

        revisions = _call(
            channel,
            HISTORY + "GetNodeHistory",
            hpb.GetNodeHistoryRequest(kind="artifact", id=artifact_id),
            hpb.GetNodeHistoryResponse,
        ).revisions
        assert [(r.revision, r.operation) for r in revisions] == [(1, "create"), (2, "update"), (3, "delete")]
        assert list(revisions[1].changed) == ["uri"] and revisions[1].artifact.uri == "/m/2"
        assert not revisions[2].HasField("artifact")
        assert {r.surface for r in revisions} == {"grpc"}


@pytest.mark.parametrize(
    ("request_", "words"),
    [
        (hpb.ReadAsOfRequest(as_of="1", method="PutArtifacts"), "read of MetadataStoreService"),
        (hpb.ReadAsOfRequest(as_of="yesterday", method="GetArtifacts"), "RFC 3339"),
        (hpb.ReadAsOfRequest(as_of=str(10**15), method="GetArtifacts"), "future"),
        (hpb.ReadAsOfRequest(as_of="1", method="GetArtifacts"), "before the store existed"),
        (hpb.ReadAsOfRequest(as_of="1", method="GetArtifacts", request=b"\xff\xff"), "not a serialized"),
    ],
)
def test_bad_reads_as_of_are_invalid_argument(store_url, request_, words):
    with mlineage_server(store_url) as server, grpc.insecure_channel(server.target) as channel:
        _mlmd(
            channel,
            "PutArtifactType",
            svc.PutArtifactTypeRequest(artifact_type=pb.ArtifactType(name="Model")),
        )
        with pytest.raises(grpc.RpcError) as caught:
            _call(channel, HISTORY + "ReadAsOf", request_, hpb.ReadAsOfResponse)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert words in caught.value.details()


def test_deleting_a_missing_node_is_not_found_and_deletes_nothing(store_url):
    with mlineage_server(store_url) as server, grpc.insecure_channel(server.target) as channel:
        type_id = _mlmd(
            channel,
            "PutArtifactType",
            svc.PutArtifactTypeRequest(artifact_type=pb.ArtifactType(name="Model")),
        ).type_id
        [artifact_id] = _mlmd(
            channel, "PutArtifacts", svc.PutArtifactsRequest(artifacts=[pb.Artifact(type_id=type_id)])
        ).artifact_ids
        with pytest.raises(grpc.RpcError) as caught:
            _call(
                channel,
                HISTORY + "DeleteNodes",
                hpb.DeleteNodesRequest(kind="artifact", ids=[artifact_id, artifact_id + 1000]),
                hpb.DeleteNodesResponse,
            )
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        by_id = svc.GetArtifactsByIDRequest(artifact_ids=[artifact_id])
        assert [a.id for a in _mlmd(channel, "GetArtifactsByID", by_id).artifacts] == [artifact_id]
