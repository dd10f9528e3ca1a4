"""REST under `mlineage serve --auth tokens`: 401 without a credential, 403 for a role too low, writes attributed.

One real server (a subprocess on a SQLite file) for the module; tokens are made
on its database before it starts and revoked through the CLI while it runs.
"""

from __future__ import annotations

import time

import httpx
import pytest

from mlineage.auth.tokens import CACHE_SECONDS
from mlineage.cli import main


def _get(server, path: str, token: str | None = None, **headers: str) -> httpx.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.get(server.base_url + path, headers=headers, timeout=30)


def _post(server, path: str, body: dict, token: str | None = None, **headers: str) -> httpx.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(server.base_url + path, json=body, headers=headers, timeout=30)


@pytest.mark.parametrize("path", ["/api/v1/artifacts", "/api/v1/artifact_types", "/api/v1/lineage_subgraph"])
def test_no_credential_is_401_with_www_authenticate(auth_server, path):
    response = _get(auth_server, path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "authorization",
    ["Bearer mlt_000000000000_" + "A" * 43, "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer"],
)
def test_a_bad_credential_is_401(auth_server, authorization):
    response = httpx.get(auth_server.base_url + "/api/v1/artifacts", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"
    assert "mlt_" not in response.text  # the credential is not echoed


def test_health_and_docs_need_no_credential(auth_server):
    assert _get(auth_server, "/healthz").status_code == 200
    assert _get(auth_server, "/openapi.json").status_code == 200
    assert _get(auth_server, "/docs").status_code == 200


def test_a_reader_reads_and_may_not_write(auth_server):
    tokens = auth_server.tokens
    assert _get(auth_server, "/api/v1/artifact_types", tokens.reader).status_code == 200
    refused = _post(auth_server, "/api/v1/artifact_types", {"name": "ReaderType"}, tokens.reader)
    assert refused.status_code == 403
    assert refused.json()["code"] == "PERMISSION_DENIED"
    listed = _get(auth_server, "/api/v1/artifact_types/by-name?name=ReaderType", tokens.reader)
    assert listed.status_code == 404  # nothing was written


def test_a_writer_writes_and_its_identity_is_the_revision_actor(auth_server):
    tokens = auth_server.tokens
    made = _post(auth_server, "/api/v1/artifact_types", {"name": "AuthDataset"}, tokens.writer)
    assert made.status_code == 200, made.text
    type_id = int(made.json()["id"])
    put = _post(auth_server, "/api/v1/artifacts", {"type_id": type_id, "uri": "/data/1", "name": "d1"}, tokens.writer)
    assert put.status_code == 201, put.text
    artifact_id = put.json()["id"]
    history = _get(auth_server, f"/api/v1/artifacts/{artifact_id}/history", tokens.reader)
    assert history.status_code == 200
    [revision] = history.json()["revisions"]
    token_id = tokens.writer.split("_")[1]
    assert revision["actor"] == f"token:{token_id} (pipeline)"
    assert revision["surface"] == "rest"


def test_deletion_needs_admin(auth_server):
    tokens = auth_server.tokens
    type_id = int(_post(auth_server, "/api/v1/artifact_types", {"name": "Doomed"}, tokens.writer).json()["id"])
    artifact_id = _post(auth_server, "/api/v1/artifacts", {"type_id": type_id, "uri": "/d"}, tokens.writer).json()["id"]
    url = f"{auth_server.base_url}/api/v1/artifacts/{artifact_id}"
    refused = httpx.delete(url, headers={"Authorization": f"Bearer {tokens.writer}"})
    assert refused.status_code == 403
    assert _get(auth_server, f"/api/v1/artifacts/{artifact_id}", tokens.reader).status_code == 200
    assert httpx.delete(url, headers={"Authorization": f"Bearer {tokens.admin}"}).status_code == 204
    purge = _post(auth_server, "/api/v1/purge", {"kind": "artifacts", "filter_query": "", "dry_run": True},
                  tokens.writer)  # fmt: skip
    assert purge.status_code == 403


def test_only_an_admin_may_name_another_namespace(auth_server):
    tokens = auth_server.tokens
    refused = _get(auth_server, "/api/v1/artifacts", tokens.writer, **{"X-Mlineage-Namespace": "team-b"})
    assert refused.status_code == 403
    assert _get(auth_server, "/api/v1/artifacts", tokens.admin, **{"X-Mlineage-Namespace": "team-b"}).status_code == 200
    bad = _get(auth_server, "/api/v1/artifacts", tokens.admin, **{"X-Mlineage-Namespace": "no spaces"})
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_ARGUMENT"


def test_mlflow_api_is_behind_the_same_middleware(auth_server):
    response = _post(auth_server, "/api/2.0/mlflow/experiments/create", {"name": "e"})
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"  # MLflow's error shape
    refused = _post(auth_server, "/api/2.0/mlflow/experiments/create", {"name": "e"}, auth_server.tokens.reader)
    assert refused.status_code == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"


def test_a_revoked_token_is_refused_within_the_cache_time(auth_server, tmp_path):
    from mlineage.auth.identity import Role
    from mlineage.auth.tokens import create_token
    from mlineage.metadata.store import Store

    with Store(auth_server.db_url) as store:
        text, info = create_token(store, namespace="default", role=Role.READER, name="soon-revoked")
    assert _get(auth_server, "/api/v1/artifacts", text).status_code == 200
    assert main(["token", "revoke", info.id, "--db", auth_server.db_url]) == 0
    time.sleep(CACHE_SECONDS + 0.2)
    response = _get(auth_server, "/api/v1/artifacts", text)
    assert response.status_code == 401
    assert "revoked" in response.json()["message"]


def test_an_expired_token_is_refused(auth_server):
    from mlineage.auth.identity import Role
    from mlineage.auth.tokens import create_token
    from mlineage.metadata.store import Store

    with Store(auth_server.db_url) as store:
        text, _ = create_token(store, namespace="default", role=Role.READER, expires_in_ms=1)
    time.sleep(0.05)
    response = _get(auth_server, "/api/v1/artifacts", text)
    assert response.status_code == 401 and "expired" in response.json()["message"]


def test_failed_authentications_are_counted_and_logged_without_the_token(auth_server):
    bogus = "mlt_0123456789ab_" + "B" * 43
    before = _failures(auth_server, "unknown")
    httpx.get(auth_server.base_url + "/api/v1/artifacts", headers={"Authorization": f"Bearer {bogus}"})
    assert _failures(auth_server, "unknown") == before + 1
    output = auth_server.server.output()
    assert "authentication failed on rest: unknown token" in output
    assert bogus not in output and "B" * 43 not in output
    for token in vars(auth_server.tokens).values():
        assert token not in output


def _failures(auth_server, reason: str) -> float:
    text = httpx.get(auth_server.base_url + "/metrics").text
    for line in text.splitlines():
        if line.startswith("mlineage_auth_failures_total{") and f'reason="{reason}"' in line and 'surface="rest"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0
