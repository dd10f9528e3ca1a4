"""OIDC/JWT bearer tokens: `mlineage serve --oidc-issuer URL --oidc-audience AUD` verifies JWTs against the issuer's
published keys (discovery document and JWKS served here by a local issuer) and maps their claims to an identity."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from grpc_server import mlineage_server

jwt = pytest.importorskip("jwt", reason="PyJWT is in the dev extra (pip install -e .[dev])")

AUDIENCE = "mlineage"


class Issuer:
    """A local OIDC issuer: its discovery document and JWKS over HTTP, and tokens signed by its key."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwks = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path == "/.well-known/openid-configuration":
                    body = json.dumps({"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks"}).encode()
                elif self.path == "/jwks":
                    body = jwks
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, *, key=None, **claims) -> str:
        now = int(time.time())
        payload = {"iss": self.url, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300,
                   "mlineage_namespace": "default", "mlineage_role": "writer", **claims}  # fmt: skip
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture(scope="module")
def oidc(tmp_path_factory) -> Iterator[tuple[Issuer, str]]:
    issuer = Issuer()
    args = ["--auth", "tokens", "--oidc-issuer", issuer.url, "--oidc-audience", AUDIENCE]
    with mlineage_server(tmp_path_factory.mktemp("oidc"), http=True, extra_args=args) as server:
        assert f"OIDC tokens of {issuer.url}" in server.output()
        yield issuer, f"http://127.0.0.1:{server.http_port}"
    issuer.server.shutdown()


def _post_type(base: str, token: str, name: str) -> httpx.Response:
    return httpx.post(base + "/api/v1/artifact_types", json={"name": name},
                      headers={"Authorization": f"Bearer {token}"})  # fmt: skip


def test_a_valid_jwt_writes_as_its_subject(oidc):
    issuer, base = oidc
    made = _post_type(base, issuer.token(), "OidcType")
    assert made.status_code == 200, made.text
    put = httpx.post(base + "/api/v1/artifacts", json={"type_id": int(made.json()["id"]), "uri": "/o"},
                     headers={"Authorization": f"Bearer {issuer.token()}"})  # fmt: skip
    history = httpx.get(f"{base}/api/v1/artifacts/{put.json()['id']}/history",
                        headers={"Authorization": f"Bearer {issuer.token(mlineage_role='reader')}"})  # fmt: skip
    assert history.json()["revisions"][0]["actor"] == "oidc:alice"


def test_the_role_claim_is_enforced(oidc):
    issuer, base = oidc
    refused = _post_type(base, issuer.token(mlineage_role="reader"), "OidcReaderType")
    assert refused.status_code == 403 and refused.json()["code"] == "PERMISSION_DENIED"


def test_the_namespace_claim_scopes_the_caller(oidc):
    issuer, base = oidc
    other = issuer.token(mlineage_namespace="team-b", mlineage_role="reader")
    listed = httpx.get(base + "/api/v1/artifact_types/by-name", params={"name": "OidcType"},
                       headers={"Authorization": f"Bearer {other}"})  # fmt: skip
    assert listed.status_code == 404


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda i: i.token(aud="someone-else"), "invalid JWT"),
        (lambda i: i.token(iss="https://evil.example"), "invalid JWT"),
        (lambda i: i.token(exp=int(time.time()) - 60), "expired"),
        (lambda i: i.token(key=rsa.generate_private_key(public_exponent=65537, key_size=2048)), "invalid JWT"),
        (lambda i: i.token(mlineage_role=None, mlineage_namespace=None), "claims"),
        (lambda i: i.token(mlineage_role="owner"), "invalid namespace or role"),
        (lambda i: jwt.encode({"iss": i.url, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60,
                               "mlineage_namespace": "default", "mlineage_role": "admin"},
                              "a-shared-secret-that-is-32-bytes-long!", algorithm="HS256"), "invalid JWT"),  # fmt: skip
    ],
    ids=["audience", "issuer", "expired", "another-key", "no-claims", "bad-role", "hmac"],
)
def test_a_bad_jwt_is_401(oidc, make, reason):
    issuer, base = oidc
    response = _post_type(base, make(issuer), "OidcRefused")
    assert response.status_code == 401, response.text
    assert reason in response.json()["message"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_mlineage_tokens_still_work_beside_jwts(oidc):
    issuer, base = oidc
    response = httpx.get(base + "/api/v1/artifact_types", headers={"Authorization": "Bearer mlt_000000000000_" + "A" * 43})
    assert response.status_code == 401 and "unknown token" in response.json()["message"]


def test_oidc_needs_an_audience(tmp_path, capsys):
    from mlineage.cli import main

    code = main(["serve", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--create", "--grpc-port", "0",
                 "--http-port", "0", "--oidc-issuer", "http://127.0.0.1:9"])  # fmt: skip
    assert code == 2 and "--oidc-audience" in capsys.readouterr().err
