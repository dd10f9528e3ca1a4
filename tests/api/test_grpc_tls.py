"""gRPC over TLS and mutual TLS, with the ml-metadata client's own `ssl_config`.

A CA, a server certificate (SAN 127.0.0.1 and localhost) and client
certificates are made with `cryptography` (tests/support/pki.py). MLMD's client takes PEM text:
`custom_ca` is the CA that signed the server, and for mTLS `client_key` with
`server_cert` (MLMD's name for the client's own certificate chain).
"""

from __future__ import annotations

import grpc
import pytest
from grpc_server import TLSFiles, mlineage_server, require_mlmd_python, run_mlmd_scenarios
from pki import CA, Issued

from mlineage.proto import metadata_store_service_pb2 as svc

pytestmark = pytest.mark.mlmd


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    ca = CA(directory, "mlineage-test-ca")
    other = CA(directory, "other-ca")
    return {
        "ca": ca.files.cert,
        "server": ca.issue("server", server=True),
        "client": ca.issue("client", server=False),
        "stranger": other.issue("stranger", server=False),
    }


def _get_type(channel: grpc.Channel, name: str) -> svc.GetArtifactTypeResponse:
    return channel.unary_unary(
        "/ml_metadata.MetadataStoreService/GetArtifactType",
        request_serializer=svc.GetArtifactTypeRequest.SerializeToString,
        response_deserializer=svc.GetArtifactTypeResponse.FromString,
    )(svc.GetArtifactTypeRequest(type_name=name), timeout=10)


def _refused(channel: grpc.Channel) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as failure:
        _get_type(channel, "anything")
    return failure.value.code()


def _smoke(python: str, target: str, *tls_args: str, tag: str) -> dict:
    return run_mlmd_scenarios(python, target, ["smoke"], tls_args=[*tls_args, "--timeout", "10"], tag=tag)["smoke"]


def _ok(result: dict) -> bool:
    return [a["label"] for a in result.get("artifacts", [])] == ["s1"]


def test_tls_with_the_mlmd_client(tmp_path, pki):
    python = require_mlmd_python()
    tls = TLSFiles(pki["server"].cert, pki["server"].key)
    with mlineage_server(tmp_path, tls=tls) as server:
        assert _ok(_smoke(python, server.target, "--ca", str(pki["ca"]), tag="tls"))
        # Our own grpc client: verified against the CA by host name too, and refused in plaintext.
        credentials = grpc.ssl_channel_credentials(root_certificates=pki["ca"].read_bytes())
        with grpc.secure_channel(f"localhost:{server.grpc_port}", credentials) as channel:
            assert _get_type(channel, "tlssmoke__Smoke").artifact_type.name == "tlssmoke__Smoke"
        with grpc.insecure_channel(server.target) as channel:
            assert _refused(channel) == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_requires_a_client_certificate_from_the_ca(tmp_path, pki):
    python = require_mlmd_python()
    tls = TLSFiles(pki["server"].cert, pki["server"].key, ca=pki["ca"], client_verify=True)
    ca = ["--ca", str(pki["ca"])]
    with mlineage_server(tmp_path, tls=tls) as server:
        client = ["--key", str(pki["client"].key), "--cert", str(pki["client"].cert)]
        assert _ok(_smoke(python, server.target, *ca, *client, tag="mtls"))
        assert _smoke(python, server.target, *ca, tag="nocert") == {"error": "UnavailableError"}

        def channel(issued: Issued | None) -> grpc.Channel:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=pki["ca"].read_bytes(),
                private_key=issued.key.read_bytes() if issued else None,
                certificate_chain=issued.cert.read_bytes() if issued else None,
            )
            return grpc.secure_channel(server.target, credentials)

        with channel(pki["client"]) as ok:
            assert _get_type(ok, "mtlssmoke__Smoke").artifact_type.name == "mtlssmoke__Smoke"
        with channel(pki["stranger"]) as stranger:  # a certificate from another CA
            assert _refused(stranger) == grpc.StatusCode.UNAVAILABLE
        with channel(None) as anonymous:
            assert _refused(anonymous) == grpc.StatusCode.UNAVAILABLE
        with grpc.insecure_channel(server.target) as plain:
            assert _refused(plain) == grpc.StatusCode.UNAVAILABLE


def test_tls_flags_go_together(tmp_path, pki):
    from mlineage.cli import main

    args = ["serve", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--grpc-port", "0", "--http-port", "0"]
    assert main([*args, "--tls-cert", str(pki["server"].cert)]) == 2
    assert main([*args, "--tls-key", str(pki["server"].key)]) == 2
