"""bench/gen_store.py's COPY writer for PostgreSQL leaves the same tables and schema as its row-insert writer."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import postgres_database
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import gen_store  # noqa: E402

pytestmark = pytest.mark.postgres


def _write(writer_class: type, url: str) -> gen_store.Landmarks:
    writer = writer_class(url)
    landmarks = gen_store.Landmarks()
    for chunk in gen_store.plan(1, writer.types, landmarks):
        writer.write(chunk)
    writer.finish()
    return landmarks


def _contents(url: str) -> dict[str, object]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            found: dict[str, object] = {
                table: connection.execute(
                    text(f"SELECT count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM {table} x")
                ).one()
                for table in gen_store.LOADED_TABLES
            }
            found["indexes"] = connection.execute(
                text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname")
            ).all()
            found["constraints"] = connection.execute(
                text(
                    "SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
                    "WHERE connamespace = 'public'::regnamespace ORDER BY conname"
                )
            ).all()
            found["sequences"] = connection.execute(
                text("SELECT sequencename, last_value FROM pg_sequences ORDER BY sequencename")
            ).all()
            return found
    finally:
        engine.dispose()


def test_copy_writer_leaves_the_tables_and_schema_the_insert_writer_does() -> None:
    inserted_url, copied_url = postgres_database("gen_store_insert"), postgres_database("gen_store_copy")
    inserted_marks = _write(gen_store.MlineageWriter, inserted_url)
    copied_marks = _write(gen_store.PostgresCopyWriter, copied_url)
    inserted, copied = _contents(inserted_url), _contents(copied_url)
    assert inserted_marks == copied_marks
    assert inserted["events"][0] > 10_000  # a whole group: the comparison is over real rows
    assert copied == inserted
    # The rebuilt schema has every index and validated constraint the migrations made.
    assert any(name == "ix_events_execution_id" for name, _ in copied["indexes"])
    assert all(valid for _, _, valid in copied["constraints"])
