"""schema/tables.py and the head migration describe the same schema, on SQLite and on PostgreSQL.

A database built by the migrations (as a new Store builds it) is reflected and
compared with ``mlineage.schema.metadata`` by Alembic's autogenerate
comparison (tables, columns, types, nullability, server defaults, foreign keys,
unique constraints, indexes), plus what autogenerate leaves out: primary keys,
SQLite's AUTOINCREMENT, and the indexes that exist on one dialect only
(``Index.ddl_if``, with PostgreSQL's index method).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import postgres_database
from sqlalchemy import Connection, Index, create_engine, inspect, text

from mlineage.metadata.engine import normalize_url
from mlineage.metadata.store import Store
from mlineage.schema import metadata


def _only_on(index: Index) -> tuple[str, ...] | None:
    """The dialects an index is created on, when ``ddl_if`` restricts it to some."""
    condition = getattr(index, "_ddl_if", None)
    if condition is None or condition.dialect is None:
        return None
    return (condition.dialect,) if isinstance(condition.dialect, str) else tuple(condition.dialect)


def _unquoted(default: str | None) -> str | None:
    if default is None:
        return None
    default = re.sub(r"^\((.*)\)$", r"\1", default)
    return re.sub(r"^'(.*)'$", r"\1", default)


def _same_default(_context, _inspected, _column, inspected: str | None, _default, rendered: str | None) -> Any:
    # Alembic's SQLite comparison unquotes a default only when it is not empty, so '' (types.version)
    # would read as a difference; equal once unquoted is equal. Anything else: Alembic's own comparison.
    return False if _unquoted(inspected) == _unquoted(rendered) else None


def schema_differences(connection: Connection) -> list[str]:
    """Every way the database on ``connection`` differs from schema/tables.py (empty: none)."""
    dialect = connection.dialect.name

    def included(obj, _name, type_, reflected: bool, _compare_to) -> bool:
        # An index meant for the other dialect is not expected here (checked below, by name).
        return reflected or type_ != "index" or _only_on(obj) is None or dialect in _only_on(obj)

    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "compare_server_default": _same_default, "include_object": included},
    )
    found = [repr(diff) for diff in compare_metadata(context, metadata)]

    inspector = inspect(connection)
    for table in metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue  # compare_metadata has said so
        reflected_key = inspector.get_pk_constraint(table.name)["constrained_columns"]
        if reflected_key != [column.name for column in table.primary_key.columns]:
            found.append(f"primary key of {table.name}: {reflected_key} in the database, "
                         f"{[c.name for c in table.primary_key.columns]} in tables.py")
        if dialect == "sqlite":
            # AUTOINCREMENT (ids never reused after a delete) is in the CREATE TABLE text only.
            sql = connection.execute(text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
                                     {"name": table.name}).scalar_one()
            if ("AUTOINCREMENT" in sql.upper()) != bool(table.dialect_options["sqlite"]["autoincrement"]):
                found.append(f"AUTOINCREMENT of {table.name} differs: {sql}")
        reflected_indexes = {index["name"]: index for index in inspector.get_indexes(table.name)}
        for index in table.indexes:
            only_on = _only_on(index)
            if only_on is None:
                continue
            reflected = reflected_indexes.get(index.name)
            if dialect not in only_on:
                if reflected is not None:
                    found.append(f"index {index.name} (for {only_on} only) exists on {dialect}")
                continue
            if reflected is None:
                found.append(f"index {index.name} missing on {dialect}")
                continue
            if reflected["column_names"] != [column.name for column in index.columns]:
                found.append(f"index {index.name}: columns {reflected['column_names']} in the database")
            using = index.dialect_options["postgresql"]["using"] if dialect == "postgresql" else None
            reflected_using = reflected.get("dialect_options", {}).get("postgresql_using")
            if using and reflected_using != using:
                found.append(f"index {index.name}: {reflected_using or 'btree'} in the database, {using} in tables.py")
    return found


def test_dialect_only_indexes_are_there_to_compare():
    # The comparison below covers both kinds of ddl_if index (if tables.py drops them, revisit it).
    assert {name for table in metadata.sorted_tables for index in table.indexes for name in _only_on(index) or ()} >= {
        "sqlite", "postgresql", "mysql"
    }


def test_database_built_by_the_migrations_is_the_schema_of_tables_py(store_url):
    engine = create_engine(normalize_url(store_url))
    try:
        with engine.connect() as connection:
            differences = schema_differences(connection)
    finally:
        engine.dispose()
    assert differences == [], "the head migration and schema/tables.py differ:\n" + "\n".join(differences)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_schema_that_drifted_from_tables_py_is_reported(backend, tmp_path):
    url = f"sqlite:///{tmp_path / 'drift.db'}" if backend == "sqlite" else postgres_database("mlineage_drift")
    Store(url).close()
    dialect_only = "ix_artifact_properties_string_value" if backend == "sqlite" else (
        "ix_artifact_properties_string_hash"
    )
    engine = create_engine(normalize_url(url))
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP INDEX ix_artifacts_uri"))
            connection.execute(text(f"DROP INDEX {dialect_only}"))
            connection.execute(text("CREATE INDEX ix_extra ON events (milliseconds_since_epoch)"))
        with engine.connect() as connection:
            differences = "\n".join(schema_differences(connection))
    finally:
        engine.dispose()
    assert "ix_artifacts_uri" in differences
    assert f"index {dialect_only} missing on {backend}" in differences
    assert "remove_index" in differences and "ix_extra" in differences
