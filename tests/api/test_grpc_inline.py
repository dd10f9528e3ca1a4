"""Quick calls answered on gRPC's polling thread (api/grpc/inline.py): the same answers, only fewer hand-overs.

Pinned here: the gets by id are answered inline while no worker is busy, every other
call goes to a worker; the answers, errors included, are byte for byte those of a
server that hands every call to a worker; a busy worker sends quick calls to the
workers too; the mark survives the authentication and access-log interceptors, and a
refusal inline is the same refusal; ``MLINEAGE_GRPC_INLINE=0`` and a gRPC release
without the internals turn it off; many clients at once get right answers.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

import mlineage
from mlineage.api.grpc import inline
from mlineage.api.grpc.server import build_server
from mlineage.api.grpc.service import QUICK_METHODS
from mlineage.auth.authenticator import AuthConfig, Authenticator
from mlineage.auth.identity import Role
from mlineage.auth.tokens import TokenVerifier, create_token
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metadata_store_service_pb2 as svc

MLMD = "ml_metadata.MetadataStoreService"


@pytest.fixture
def store(tmp_path):
    store = mlineage.connect(f"sqlite:///{tmp_path / 'inline.db'}")
    dataset = store.put_artifact_type(pb.ArtifactType(name="Dataset", properties={"span": pb.INT}))
    trainer = store.put_execution_type(pb.ExecutionType(name="Trainer"))
    run = store.put_context_type(pb.ContextType(name="Run"))
    store.put_artifacts([pb.Artifact(type_id=dataset, uri=f"/d/{i}", properties={"span": pb.Value(int_value=i)})
                         for i in range(5)])  # fmt: skip
    store.put_executions([pb.Execution(type_id=trainer, name=f"x{i}") for i in range(3)])
    store.put_contexts([pb.Context(type_id=run, name=f"r{i}") for i in range(2)])
    yield store
    store.close()


class Serving:
    def __init__(self, store, **options) -> None:
        self.server, port = build_server(store, host="127.0.0.1", port=0, max_workers=4, **options)
        self.server.start()
        self.pool: inline.InlineFirstPool = self.server._mlineage_pool
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")

    def raw(self, method: str, body: bytes, metadata=None) -> bytes:
        call = self.channel.unary_unary(f"/{MLMD}/{method}")  # bytes in, bytes out
        return call(body, timeout=10, metadata=metadata)

    def outcome(self, method: str, body: bytes, metadata=None) -> tuple:
        try:
            return ("OK", self.raw(method, body, metadata))
        except grpc.RpcError as failure:
            trailers = dict(failure.trailing_metadata() or ())
            trailers.pop("x-request-id", None)  # each call's own (none on a refusal); the rest must match
            return (failure.code(), failure.details(), trailers)

    def close(self) -> None:
        self.channel.close()
        self.server.stop(None)


@pytest.fixture
def serving(store):
    servers: list[Serving] = []

    def start(**options) -> Serving:
        servers.append(Serving(store, **options))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _cases() -> list[tuple[str, bytes]]:
    missing = 10_000
    return [
        ("GetArtifactsByID", svc.GetArtifactsByIDRequest(artifact_ids=[3, 1, 3, missing]).SerializeToString()),
        ("GetArtifactsByID", svc.GetArtifactsByIDRequest(artifact_ids=[5, 2],
                                                          populate_artifact_types=True).SerializeToString()),
        ("GetArtifactsByID", b""),
        ("GetExecutionsByID", svc.GetExecutionsByIDRequest(execution_ids=[3, 1, missing]).SerializeToString()),
        ("GetContextsByID", svc.GetContextsByIDRequest(context_ids=[2, 1]).SerializeToString()),
        ("GetArtifactTypesByID", svc.GetArtifactTypesByIDRequest(type_ids=[1, 1, missing]).SerializeToString()),
        ("GetExecutionTypesByID", svc.GetExecutionTypesByIDRequest(type_ids=[2]).SerializeToString()),
        ("GetContextTypesByID", svc.GetContextTypesByIDRequest(type_ids=[3, 2]).SerializeToString()),
        ("GetArtifactsByID", b"\xff\xff\xff"),  # not a message: INVALID_ARGUMENT from the handler
        ("GetArtifactsByID", b"\x0a\x05\x01"),  # truncated: the same
        ("GetArtifacts", b""),  # not quick: a worker answers
        ("GetLineageSubgraph", svc.GetLineageSubgraphRequest().SerializeToString()),  # an error, by a worker
    ]


def test_gets_by_id_are_answered_inline_and_others_by_a_worker(serving):
    server = serving()
    assert server.pool.inline
    for method in sorted(QUICK_METHODS):
        before = server.pool.answered_inline
        server.outcome(method, b"")
        assert server.pool.answered_inline == before + 1, method
    before = server.pool.answered_inline
    for method in ("GetArtifacts", "GetArtifactTypes", "GetLineageSubgraph", "PutArtifacts"):
        server.outcome(method, b"")
    assert server.pool.answered_inline == before


def test_answers_and_errors_are_those_of_a_worker(serving):
    inline_server, worker_server = serving(), serving(inline=False)
    assert not worker_server.pool.inline
    for method, body in _cases():
        assert inline_server.outcome(method, body) == worker_server.outcome(method, body), method
    assert inline_server.pool.answered_inline == sum(method in QUICK_METHODS for method, _ in _cases())
    assert worker_server.pool.answered_inline == 0
    # The errors were errors: a test whose cases all succeed would not pin the error path.
    assert inline_server.outcome("GetArtifactsByID", b"\xff\xff\xff")[0] is grpc.StatusCode.INVALID_ARGUMENT


def test_a_write_is_seen_by_the_next_inline_get(serving, store):
    server = serving()
    request = svc.GetArtifactsByIDRequest(artifact_ids=[1]).SerializeToString()
    first = svc.GetArtifactsByIDResponse.FromString(server.raw("GetArtifactsByID", request))
    assert first.artifacts[0].uri == "/d/0"
    changed = pb.Artifact()
    changed.CopyFrom(first.artifacts[0])
    changed.uri = "/moved"
    server.raw("PutArtifacts", svc.PutArtifactsRequest(artifacts=[changed]).SerializeToString())
    second = svc.GetArtifactsByIDResponse.FromString(server.raw("GetArtifactsByID", request))
    assert second.artifacts[0].uri == "/moved"


def test_a_busy_worker_sends_quick_calls_to_the_workers(serving):
    server = serving()
    release = threading.Event()
    busy = server.pool.submit(release.wait, 30)  # a call still running in a worker
    try:
        before = server.pool.answered_inline
        answer = server.raw("GetArtifactsByID", svc.GetArtifactsByIDRequest(artifact_ids=[2]).SerializeToString())
        assert svc.GetArtifactsByIDResponse.FromString(answer).artifacts[0].id == 2
        assert server.pool.answered_inline == before
    finally:
        release.set()
        busy.result(10)
    deadline = time.monotonic() + 10
    while server.pool._running and time.monotonic() < deadline:  # its done-callback runs just after
        time.sleep(0.01)
    server.raw("GetArtifactsByID", b"")
    assert server.pool.answered_inline == before + 1


def test_many_clients_at_once_get_right_answers(serving, store):
    server = serving()
    ids = [1, 2, 3, 4, 5]
    expected = {i: store.get_artifacts_by_id([i])[0].SerializeToString() for i in ids}

    def client(n: int) -> int:
        wrong = 0
        for k in range(60):
            i = ids[(n + k) % len(ids)]
            if k % 7 == 0:  # a slow call beside the quick ones, so that workers are busy some of the time
                server.raw("GetArtifacts", b"")
            answer = svc.GetArtifactsByIDResponse.FromString(
                server.raw("GetArtifactsByID", svc.GetArtifactsByIDRequest(artifact_ids=[i]).SerializeToString()))
            wrong += answer.artifacts[0].SerializeToString() != expected[i]
        return wrong

    with ThreadPoolExecutor(8) as clients:
        assert sum(clients.map(client, range(8))) == 0
    assert server.pool.answered_inline > 0


def test_the_mark_survives_authentication_and_a_refusal_inline_is_the_same(serving, store):
    token, _ = create_token(store, namespace="default", role=Role.READER)
    authenticator = Authenticator(AuthConfig(tokens=True), TokenVerifier(store))
    inline_server = serving(auth=authenticator, access_log=True)
    worker_server = serving(auth=authenticator, access_log=True, inline=False)
    good = (("authorization", f"Bearer {token}"),)
    bad = (("authorization", "Bearer nonsense"),)
    body = svc.GetArtifactsByIDRequest(artifact_ids=[1, 2]).SerializeToString()
    before = inline_server.pool.answered_inline
    answered = inline_server.outcome("GetArtifactsByID", body, good)
    assert answered == worker_server.outcome("GetArtifactsByID", body, good)
    assert answered[0] == "OK" and len(svc.GetArtifactsByIDResponse.FromString(answered[1]).artifacts) == 2
    refused = inline_server.outcome("GetArtifactsByID", body, bad)
    assert refused == worker_server.outcome("GetArtifactsByID", body, bad)
    assert refused[0] is grpc.StatusCode.UNAUTHENTICATED and refused[2]["www-authenticate"].startswith("Bearer")
    assert inline_server.pool.answered_inline == before + 2


def test_an_oidc_issuer_keeps_calls_off_the_polling_thread(serving, store):
    # Identifying an OIDC token may fetch the issuer's keys over HTTP: never on gRPC's poller.
    from mlineage.auth.oidc import OIDCConfig, OIDCVerifier

    oidc = OIDCVerifier(OIDCConfig("https://issuer.invalid", "mlineage"))
    server = serving(auth=Authenticator(AuthConfig(tokens=True, oidc=oidc), TokenVerifier(store)))
    token, _ = create_token(store, namespace="default", role=Role.READER)
    body = svc.GetArtifactsByIDRequest(artifact_ids=[1]).SerializeToString()
    answered = server.outcome("GetArtifactsByID", body, (("authorization", f"Bearer {token}"),))
    assert answered[0] == "OK" and len(svc.GetArtifactsByIDResponse.FromString(answered[1]).artifacts) == 1
    assert server.pool.answered_inline == 0


def test_the_environment_turns_it_off(serving, monkeypatch):
    monkeypatch.setenv(inline.ENV, "0")
    server = serving()
    assert not server.pool.inline
    server.raw("GetArtifactsByID", b"")
    assert server.pool.answered_inline == 0
    assert inline.enabled_by_environment({inline.ENV: "off"}) is False
    assert inline.enabled_by_environment({}) is True


def test_a_grpc_release_without_the_internals_turns_it_off(serving, monkeypatch):
    assert inline.SUPPORTED, "this gRPC release should have the internals; the check itself is below"
    monkeypatch.setattr(inline, "SUPPORTED", False)
    server = serving()
    assert not server.pool.inline
    assert server.raw("GetArtifactsByID", b"") == b""
    assert server.pool.answered_inline == 0
    # The check refuses a release whose functions take other arguments.
    from grpc import _server

    monkeypatch.setattr(_server, "_receive_message", lambda state, call: None)
    assert inline._internals() is None


def test_the_service_marks_exactly_the_gets_by_id():
    assert QUICK_METHODS == {"GetArtifactsByID", "GetExecutionsByID", "GetContextsByID",
                             "GetArtifactTypesByID", "GetExecutionTypesByID", "GetContextTypesByID"}  # fmt: skip
    assert inline.is_quick(inline.carry_mark(inline.quick(lambda: None), lambda: None))
    assert not inline.is_quick(inline.carry_mark(lambda: None, lambda: None))
