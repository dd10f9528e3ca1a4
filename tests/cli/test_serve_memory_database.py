"""`mlineage serve --db sqlite:///:memory:` serves (its URL's percent-escapes once broke the migration's config),
and a database URL with a percent-escaped password reaches Alembic as it was given."""

from __future__ import annotations

import httpx
from grpc_server import mlineage_server
from sqlalchemy import create_engine

import mlineage
from mlineage.migrations import runner
from mlineage.proto import metadata_store_pb2 as pb


def test_serve_on_an_in_memory_database_answers_both_apis():
    with mlineage_server("sqlite:///:memory:", http=True) as server:
        store = mlineage.connect(f"grpc://{server.target}")
        try:
            type_id = store.put_artifact_type(pb.ArtifactType(name="Dataset"))
            [artifact_id] = store.put_artifacts([pb.Artifact(type_id=type_id, uri="mem://a")])
            [artifact] = store.get_artifacts_by_id([artifact_id])
            assert artifact.uri == "mem://a"
        finally:
            store.close()
        health = httpx.get(f"http://{server.host}:{server.http_port}/healthz", timeout=10)
        assert health.status_code == 200, health.text
    assert "Traceback" not in server.output() and "interpolation" not in server.output(), server.output()


def test_the_migration_config_keeps_a_url_with_percent_escapes_as_given():
    engine = create_engine("postgresql+psycopg://user:p%40ss%25word@db.example/mlineage")
    config = runner.alembic_config(engine)
    assert config.get_main_option("sqlalchemy.url") == "postgresql+psycopg://user:p%40ss%25word@db.example/mlineage"
    engine.dispose()
