"""gRPC under `mlineage serve --auth tokens`, through our client (GrpcStore): the `authorization` metadata.

No token is UNAUTHENTICATED (with a www-authenticate trailer); a reader's write and a
writer's destructive type change or deletion are PERMISSION_DENIED and change nothing;
the token comes from ``token=``, ``$MLINEAGE_TOKEN`` or the URL's ``?token_file=``;
health checking needs no credential.
"""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mlineage import errors
from mlineage.client.grpc_store import GrpcStore
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metadata_store_service_pb2 as svc


def _store(auth_server, token: str | None = None) -> GrpcStore:
    return GrpcStore(f"grpc://{auth_server.server.target}", token=token, retries=0, timeout=10)


def test_no_token_is_unauthenticated(auth_server, monkeypatch):
    monkeypatch.delenv("MLINEAGE_TOKEN", raising=False)
    with _store(auth_server) as store, pytest.raises(errors.UnauthenticatedError, match="no credential"):
        store.get_artifact_types()


def test_the_refusal_carries_www_authenticate(auth_server):
    with grpc.insecure_channel(auth_server.server.target) as channel:
        call = channel.unary_unary(
            "/ml_metadata.MetadataStoreService/GetArtifactTypes",
            request_serializer=svc.GetArtifactTypesRequest.SerializeToString,
            response_deserializer=svc.GetArtifactTypesResponse.FromString,
        )
        with pytest.raises(grpc.RpcError) as failure:
            call(svc.GetArtifactTypesRequest(), timeout=10, metadata=(("authorization", "Bearer nonsense"),))
    assert failure.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert dict(failure.value.trailing_metadata())["www-authenticate"].startswith("Bearer")


def test_health_needs_no_credential(auth_server):
    with grpc.insecure_channel(auth_server.server.target) as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_a_reader_may_not_write(auth_server):
    with _store(auth_server, auth_server.tokens.reader) as store:
        assert isinstance(store.get_artifact_types(), list)
        with pytest.raises(errors.PermissionDeniedError, match="writer"):
            store.put_artifact_type(pb.ArtifactType(name="GrpcReaderType"))
        with pytest.raises(errors.NotFoundError):  # nothing was written
            store.get_artifact_type("GrpcReaderType")


def test_a_writer_writes_through_mlineage_token(auth_server, monkeypatch):
    monkeypatch.setenv("MLINEAGE_TOKEN", auth_server.tokens.writer)
    with _store(auth_server) as store:
        type_id = store.put_artifact_type(pb.ArtifactType(name="GrpcDataset", properties={"n": pb.INT}))
        [artifact_id] = store.put_artifacts([pb.Artifact(type_id=type_id, uri="/grpc/1")])
        [revision] = store.get_artifact_history(artifact_id)
    token_id = auth_server.tokens.writer.split("_")[1]
    assert revision.actor == f"token:{token_id} (pipeline)" and revision.surface == "grpc"


def test_the_token_can_come_from_a_file_named_in_the_url(auth_server, tmp_path, monkeypatch):
    monkeypatch.delenv("MLINEAGE_TOKEN", raising=False)
    path = tmp_path / "token"
    path.write_text(auth_server.tokens.reader + "\n")
    with GrpcStore(f"grpc://{auth_server.server.target}?token_file={path}", retries=0) as store:
        assert isinstance(store.get_artifact_types(), list)


def test_destructive_type_changes_and_deletion_need_admin(auth_server):
    with _store(auth_server, auth_server.tokens.writer) as writer:
        kept = pb.ArtifactType(name="GrpcShrinking", properties={"a": pb.INT, "b": pb.STRING})
        writer.put_artifact_type(kept)
        smaller = pb.ArtifactType(name="GrpcShrinking", properties={"a": pb.INT})
        with pytest.raises(errors.PermissionDeniedError, match="admin"):
            writer.put_artifact_type(smaller, can_delete_fields=True)
        [artifact_id] = writer.put_artifacts([pb.Artifact(type_id=writer.get_artifact_type("GrpcShrinking").id)])
        with pytest.raises(errors.PermissionDeniedError):
            writer.delete_artifacts([artifact_id])
        assert len(writer.get_artifacts_by_id([artifact_id])) == 1
    with _store(auth_server, auth_server.tokens.admin) as admin:
        assert admin.delete_artifacts([artifact_id]) == 1


def test_a_revoked_token_is_refused_over_grpc(auth_server):
    import time

    from mlineage.auth.identity import Role
    from mlineage.auth.tokens import CACHE_SECONDS, create_token, revoke_token
    from mlineage.metadata.store import Store

    with Store(auth_server.db_url) as opened:
        text, info = create_token(opened, namespace="default", role=Role.READER)
        with _store(auth_server, text) as store:
            store.get_artifact_types()
            revoke_token(opened, info.id)
            time.sleep(CACHE_SECONDS + 0.2)
            with pytest.raises(errors.UnauthenticatedError, match="revoked"):
                store.get_artifact_types()


def test_an_admin_names_another_namespace_in_the_metadata(auth_server):
    with _store(auth_server, auth_server.tokens.other_writer) as team_b:
        team_b.put_artifact_type(pb.ArtifactType(name="GrpcTeamBType"))

    def type_names(token: str, namespace: str | None = None) -> set[str]:
        metadata = [("authorization", f"Bearer {token}")]
        if namespace:
            metadata.append(("x-mlineage-namespace", namespace))
        with grpc.insecure_channel(auth_server.server.target) as channel:
            call = channel.unary_unary(
                "/ml_metadata.MetadataStoreService/GetArtifactTypes",
                request_serializer=svc.GetArtifactTypesRequest.SerializeToString,
                response_deserializer=svc.GetArtifactTypesResponse.FromString,
            )
            return {t.name for t in call(svc.GetArtifactTypesRequest(), timeout=10, metadata=metadata).artifact_types}

    assert "GrpcTeamBType" in type_names(auth_server.tokens.admin, "team-b")
    assert "GrpcTeamBType" not in type_names(auth_server.tokens.admin)
    with pytest.raises(grpc.RpcError) as refused:
        type_names(auth_server.tokens.writer, "team-b")
    assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED
