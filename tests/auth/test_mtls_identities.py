"""Mutual TLS identities for the unmodified ml-metadata client (which sends no headers): `--tls-identities FILE`.

The client certificate's CN or a SAN names an identity in the mapping file; the
real ml-metadata client (the .venvs/mlmd environment) then writes as a writer,
is refused writes as a reader, and is UNAUTHENTICATED with a certificate the
file does not name, although the CA signed it.
"""

from __future__ import annotations

import json

import pytest
from grpc_server import TLSFiles, mlineage_server, require_mlmd_python, run_mlmd_scenarios
from pki import CA

from mlineage.cli import main

pytestmark = pytest.mark.mlmd


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    ca = CA(directory, "mlineage-auth-ca")
    identities = directory / "identities.json"
    identities.write_text(json.dumps({
        "tfx-writer": {"namespace": "default", "role": "writer"},
        "dash.reader.example": {"namespace": "default", "role": "reader"},
        "team-b-pipeline": {"namespace": "team-b", "role": "writer"},
    }))  # fmt: skip
    return {
        "ca": ca.files.cert,
        "server": ca.issue("server", server=True),
        "writer": ca.issue("tfx-writer", server=False),
        "reader": ca.issue("dashboard", server=False, dns_names=("dash.reader.example",)),  # by its SAN
        "unmapped": ca.issue("someone-else", server=False),
        "team_b": ca.issue("team-b-pipeline", server=False),
        "identities": identities,
    }


def _smoke(python: str, target: str, pki: dict, who: str, tag: str) -> dict:
    args = ["--ca", str(pki["ca"]), "--key", str(pki[who].key), "--cert", str(pki[who].cert), "--timeout", "10"]
    return run_mlmd_scenarios(python, target, ["smoke"], tls_args=args, tag=tag)["smoke"]


def test_the_mlmd_client_is_confined_by_its_certificate(tmp_path, pki):
    python = require_mlmd_python()
    tls = TLSFiles(pki["server"].cert, pki["server"].key, ca=pki["ca"], client_verify=True)
    extra = ["--tls-identities", str(pki["identities"])]
    with mlineage_server(tmp_path, tls=tls, host="127.0.0.1", extra_args=extra) as server:
        assert "client certificates (3 identities)" in server.output()
        written = _smoke(python, server.target, pki, "writer", "mtlsw")
        assert [a["label"] for a in written["artifacts"]] == ["s1"]
        assert _smoke(python, server.target, pki, "reader", "mtlsr") == {"error": "PermissionDeniedError"}
        assert _smoke(python, server.target, pki, "unmapped", "mtlsu") == {"error": "UnauthenticatedError"}
        # The same scenario (same type and node names) from team-b's certificate: its own records only.
        other = _smoke(python, server.target, pki, "team_b", "mtlsw")
        assert [a["label"] for a in other["artifacts"]] == ["s1"]
        db_url = server.db_url
    # The writer's changes are recorded as its certificate's identity.
    from mlineage.metadata.namespace_scope import scoped
    from mlineage.metadata.store import Store

    with Store(db_url) as store:
        for namespace, actor in (("default", "cert:tfx-writer"), ("team-b", "cert:team-b-pipeline")):
            with scoped(namespace):
                artifacts = store.get_artifacts()
                assert len(artifacts) == 1
                assert {r.actor for r in store.get_artifact_history(artifacts[0].id)} == {actor}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not JSON"),
        ('{"x": {"role": "owner"}}', "unknown role"),
        ('{"x": {"namespace": "a b", "role": "reader"}}', "invalid namespace"),
        ("{}", "expected an object"),
    ],
)
def test_a_bad_identity_file_is_named(tmp_path, pki, capsys, content, message):
    path = tmp_path / "ids.json"
    path.write_text(content)
    code = main([
        "serve", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--create", "--grpc-port", "0", "--http-port", "0",
        "--tls-cert", str(pki["server"].cert), "--tls-key", str(pki["server"].key), "--tls-ca", str(pki["ca"]),
        "--tls-client-verify", "--tls-identities", str(path),
    ])  # fmt: skip
    assert code == 2
    assert message in capsys.readouterr().err


def test_identities_need_mutual_tls(tmp_path, pki, capsys):
    code = main(["serve", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--create", "--grpc-port", "0",
                 "--http-port", "0", "--tls-identities", str(pki["identities"])])  # fmt: skip
    assert code == 2
    assert "needs mutual TLS" in capsys.readouterr().err
