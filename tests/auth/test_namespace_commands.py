"""`mlineage namespace create|list|delete`: delete only when empty, or with --purge; its tokens revoked."""

from __future__ import annotations

import json

import pytest

from mlineage.auth.identity import Role
from mlineage.auth.tokens import create_token, list_tokens
from mlineage.cli import main
from mlineage.metadata.namespace_scope import scoped
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb


@pytest.fixture
def db(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'ns.db'}"
    assert main(["db", "upgrade", "--db", url]) == 0
    capsys.readouterr()
    return url


def _listed(capsys, db) -> dict:
    assert main(["namespace", "list", "--format", "json", "--db", db]) == 0
    return {row["name"]: row for row in json.loads(capsys.readouterr().out)}


def test_create_list_and_delete_an_empty_namespace(db, capsys):
    assert main(["namespace", "create", "team-a", "--description", "the A team", "--db", db]) == 0
    assert "created namespace team-a" in capsys.readouterr().out
    listed = _listed(capsys, db)
    assert set(listed) == {"default", "team-a"}
    assert listed["team-a"]["description"] == "the A team" and listed["team-a"]["artifacts"] == 0
    assert main(["namespace", "create", "team-a", "--db", db]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["namespace", "create", "bad name", "--db", db]) == 2
    assert "invalid namespace" in capsys.readouterr().err
    assert main(["namespace", "delete", "team-a", "--db", db]) == 0
    capsys.readouterr()
    assert set(_listed(capsys, db)) == {"default"}
    assert main(["namespace", "delete", "default", "--db", db]) == 2
    assert main(["namespace", "delete", "nowhere", "--db", db]) == 2
    assert "no namespace" in capsys.readouterr().err


def test_a_namespace_with_nodes_is_deleted_only_with_purge(db, capsys):
    with Store(db) as store:
        create_token(store, namespace="team-b", role=Role.WRITER)
        with scoped("team-b"):
            type_id = store.put_artifact_type(pb.ArtifactType(name="Data"))
            ids = store.put_artifacts([pb.Artifact(type_id=type_id, uri=f"/b/{i}") for i in range(3)])
        default_type = store.put_artifact_type(pb.ArtifactType(name="Data"))
        [kept] = store.put_artifacts([pb.Artifact(type_id=default_type, uri="/default")])
    listed = _listed(capsys, db)
    assert listed["team-b"]["artifacts"] == 3 and listed["team-b"]["tokens"] == 1
    assert main(["namespace", "delete", "team-b", "--db", db]) == 2
    assert "holds 3 artifacts" in capsys.readouterr().err
    assert main(["namespace", "delete", "team-b", "--purge", "--db", db]) == 0
    assert "purged 3 artifacts" in capsys.readouterr().out
    with Store(db) as store:
        with scoped("team-b"):
            assert store.get_artifacts_by_id(ids) == []
        assert [a.id for a in store.get_artifacts_by_id([kept])] == [kept]  # another namespace untouched
        assert [info.status(0) for info in list_tokens(store)] == ["revoked"]
