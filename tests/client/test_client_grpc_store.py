"""GrpcStore: Store's methods and signatures over gRPC, the same answers, mlineage errors, retries, TLS."""

from __future__ import annotations

import datetime
import inspect
import time

import pytest
from client_server import Server, free_port

import mlineage
from mlineage import errors
from mlineage.client.grpc_store import _RPCS, LOCAL_ONLY, GrpcStore, Target
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb

MLMD_METHODS = {
    "put_artifact_type", "put_execution_type", "put_context_type", "put_types", "get_artifact_type",
    "get_execution_type", "get_context_type", "get_artifact_types", "get_execution_types", "get_context_types",
    "get_artifact_types_by_id", "get_execution_types_by_id", "get_context_types_by_id",
    "get_artifact_types_by_external_ids", "get_execution_types_by_external_ids",
    "get_context_types_by_external_ids", "put_artifacts", "put_executions", "put_contexts", "put_events",
    "put_execution", "put_lineage_subgraph", "put_attributions_and_associations", "put_parent_contexts",
    "get_artifacts", "get_executions", "get_contexts", "get_artifacts_by_id", "get_executions_by_id",
    "get_contexts_by_id", "get_artifacts_by_type", "get_executions_by_type", "get_contexts_by_type",
    "get_artifact_by_type_and_name", "get_execution_by_type_and_name", "get_context_by_type_and_name",
    "get_artifacts_by_uri", "get_artifacts_by_external_ids", "get_executions_by_external_ids",
    "get_contexts_by_external_ids", "get_artifacts_by_context", "get_executions_by_context",
    "get_contexts_by_artifact", "get_contexts_by_execution", "get_parent_contexts_by_context",
    "get_children_contexts_by_context", "get_parent_contexts_by_contexts", "get_children_contexts_by_contexts",
    "get_events_by_execution_ids", "get_events_by_artifact_ids", "get_lineage_subgraph", "get_lineage_graph",
    "get_artifacts_and_types_by_artifact_ids", "list_nodes",
}


def test_every_mlmd_method_of_store_has_the_same_signature_on_grpc_store():
    for name in sorted(MLMD_METHODS):
        assert inspect.signature(getattr(GrpcStore, name)) == inspect.signature(getattr(Store, name)), name
    for spec in _RPCS:
        if hasattr(Store, spec.method):
            assert inspect.signature(getattr(GrpcStore, spec.method)) == inspect.signature(getattr(Store, spec.method))
    public = {n for n in dir(Store) if not n.startswith("_") and callable(getattr(Store, n, None))}
    assert MLMD_METHODS <= public
    assert LOCAL_ONLY == {"engine", "reading"}


def test_urls_parse_and_bad_ones_are_invalid_arguments():
    assert Target.parse("grpc://h:1") == Target("h:1")
    tls = Target.parse("grpcs://h:1?ca=/ca.pem&server_name=x")
    assert tls.tls and tls.ca == "/ca.pem" and tls.server_name == "x"
    for bad in ("grpc://", "http://h:1", "grpcs://h:1?nope=1"):
        with pytest.raises(errors.InvalidArgumentError):
            Target.parse(bad)
    assert isinstance(mlineage.connect("grpc://127.0.0.1:1"), GrpcStore)


def scenario(store) -> list:
    """The same calls on any store; returns what they answered (ids included: both stores start empty)."""
    out: list = []
    a_type = store.put_artifact_type(pb.ArtifactType(name="Data", properties={"span": pb.INT}))
    e_type = store.put_execution_type(pb.ExecutionType(name="Trainer"))
    c_type = store.put_context_type(pb.ContextType(name="run"))
    out.append(store.put_types([pb.ArtifactType(name="Data", properties={"span": pb.INT})], can_add_fields=True))
    artifacts = [pb.Artifact(type_id=a_type, uri=f"u{i}", external_id=f"x{i}",
                             properties={"span": pb.Value(int_value=i)}) for i in range(5)]
    out.append(store.put_artifacts(artifacts))
    out.append(store.put_execution(
        pb.Execution(type_id=e_type, last_known_state=pb.Execution.COMPLETE),
        [(pb.Artifact(type_id=a_type, uri="model"), pb.Event(type=pb.Event.OUTPUT)),
         (None, pb.Event(type=pb.Event.INPUT, artifact_id=1))],
        [pb.Context(type_id=c_type, name="r1")],
        reuse_context_if_already_exist=True,
    ))
    [child] = store.put_contexts([pb.Context(type_id=c_type, name="r2")])
    store.put_parent_contexts([pb.ParentContext(child_id=child, parent_id=1)])
    out.append(store.get_parent_contexts_by_contexts([child, 1]))
    out.append(store.get_children_contexts_by_context(1))
    out.append(store.get_artifacts(mlineage.ListOptions(limit=3, order_by=mlineage.OrderByField.ID,
                                                        is_asc=False)))
    out.append(store.get_artifacts_by_type("Data", list_options=mlineage.ListOptions(filter_query="uri = 'u2'")))
    out.append(store.get_artifacts_by_uri(["u1", "u3"]))
    out.append(store.get_artifact_by_type_and_name("Data", "none"))
    out.append(store.get_artifacts_and_types_by_artifact_ids([1, 6]))
    out.append(store.get_events_by_execution_ids([1]))
    out.append(store.get_executions_by_context(1))
    out.append(store.get_contexts_by_artifact(6))
    query = pb.LineageSubgraphQueryOptions(
        starting_artifacts=pb.LineageSubgraphQueryOptions.StartingNodes(filter_query="uri = 'model'"),
        max_num_hops=2)
    out.append(store.get_lineage_subgraph(query))
    out.append(store.get_lineage_subgraph(query, ["artifacts", "events"]))
    for call in (lambda: store.get_artifact_type("missing"),
                 lambda: store.put_artifacts([pb.Artifact(type_id=a_type, external_id="x1")]),
                 lambda: store.put_artifacts([pb.Artifact(type_id=999)]),
                 lambda: store.get_artifacts_by_external_ids([""])):
        try:
            call()
            out.append("no error")
        except errors.MlineageError as exc:
            out.append(type(exc).__name__)
    return out


def _strip_times(value):
    """Node timestamps differ between two stores; everything else must not."""
    if isinstance(value, (list, tuple)):
        return [_strip_times(v) for v in value]
    if isinstance(value, dict):
        return {k: _strip_times(v) for k, v in value.items()}
    if hasattr(value, "DESCRIPTOR"):
        copy = type(value)()
        copy.CopyFrom(value)
        _clear_times(copy)
        return copy
    return value


def _clear_times(message) -> None:
    for field, value in message.ListFields():
        if field.name in ("create_time_since_epoch", "last_update_time_since_epoch", "milliseconds_since_epoch"):
            message.ClearField(field.name)
        elif field.message_type is not None and not field.message_type.GetOptions().map_entry:
            for item in ([value] if hasattr(value, "DESCRIPTOR") else value):
                _clear_times(item)


def test_grpc_store_answers_as_the_embedded_store_does(tmp_path):
    embedded = scenario(mlineage.connect(f"sqlite:///{tmp_path / 'embedded.db'}"))
    with Server(f"sqlite:///{tmp_path / 'served.db'}") as server:
        remote = scenario(mlineage.connect(server.url))
    assert remote[-4:] == ["NotFoundError", "AlreadyExistsError", "NotFoundError", "InvalidArgumentError"]
    assert _strip_times(remote) == _strip_times(embedded)


def test_unavailable_is_retried_with_backoff_then_raised():
    store = GrpcStore(f"grpc://127.0.0.1:{free_port()}", retries=3, timeout=2)
    started = time.monotonic()
    with pytest.raises(errors.UnavailableError):
        store.get_artifact_types()
    assert time.monotonic() - started >= 0.05 + 0.1 * 0.5  # three waits, the first two at least this long
    assert not store.ping(timeout=0.5)


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_grpcs_urls_talk_tls_with_a_custom_ca(tmp_path):
    cert, key = _self_signed(tmp_path)
    with Server(f"sqlite:///{tmp_path / 'tls.db'}", extra_args=("--tls-cert", str(cert), "--tls-key", str(key))) as s:
        store = mlineage.connect(f"grpcs://localhost:{s.port}?ca={cert}")
        assert store.put_context_type(pb.ContextType(name="secure")) > 0
        plaintext = GrpcStore(f"grpc://localhost:{s.port}", retries=0, timeout=2)
        with pytest.raises(errors.MlineageError):
            plaintext.get_context_types()
