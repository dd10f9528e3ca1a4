"""`mlineage audit --since …`: who changed what, with the identity each write authenticated as."""

from __future__ import annotations

import json

import httpx
import pytest

from mlineage.cli import main
from mlineage.cli.audit import since_ms


def test_audit_lists_each_write_with_its_identity(auth_server, capsys):
    tokens = auth_server.tokens
    headers = {"Authorization": f"Bearer {tokens.writer}"}
    made = httpx.post(auth_server.base_url + "/api/v1/artifact_types", json={"name": "Audited"}, headers=headers)
    type_id = int(made.json()["id"])
    put = httpx.post(auth_server.base_url + "/api/v1/artifacts", json={"type_id": type_id, "uri": "/a"},
                     headers=headers)  # fmt: skip
    artifact_id = put.json()["id"]
    admin = {"Authorization": f"Bearer {tokens.admin}"}
    assert httpx.delete(f"{auth_server.base_url}/api/v1/artifacts/{artifact_id}", headers=admin).status_code == 204

    assert main(["audit", "--since", "1h", "--format", "json", "--db", auth_server.db_url]) == 0
    entries = json.loads(capsys.readouterr().out)
    writer_id, admin_id = tokens.writer.split("_")[1], tokens.admin.split("_")[1]
    wrote = [e for e in entries if f"artifact:{artifact_id}" in e["wrote"]]
    assert [e["actor"] for e in wrote] == [f"token:{writer_id} (pipeline)"]
    assert wrote[0]["surface"] == "rest" and wrote[0]["peer"].startswith("127.0.0.1:")
    deleted = [e for e in entries if f"artifact:{artifact_id}" in e["deleted"]]
    assert [e["actor"] for e in deleted] == [f"token:{admin_id}"]
    assert any(f"type:{type_id}" in e["wrote"] for e in entries)

    assert main(["audit", "--since", "1h", "--actor", f"token:{admin_id}", "--db", auth_server.db_url]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines and all(f"token:{admin_id}" in line for line in lines)
    assert any(f"deleted artifact:{artifact_id}" in line for line in lines)


def test_since_takes_a_duration_or_a_moment():
    assert since_ms("1h", now_ms=10_000_000) == 10_000_000 - 3_600_000
    assert since_ms("2026-05-01T12:00:00Z") == 1_777_636_800_000


@pytest.mark.parametrize("text", ["yesterday", "2026-05-01T12:00:00", "-1h"])
def test_a_bad_since_is_named(tmp_path, capsys, text):
    db = f"sqlite:///{tmp_path / 'a.db'}"
    assert main(["db", "upgrade", "--db", db]) == 0
    assert main(["audit", f"--since={text}", "--db", db]) == 2
    assert "--since" in capsys.readouterr().err
