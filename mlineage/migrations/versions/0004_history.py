"""history: the changes log, each row's current version, and the *_history twins of the versioned tables

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 11:00:00.000000

Rows written before this revision keep ``revision`` 1 and ``change_id`` 0: their
current state is their first known version, valid from their create time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlineage.schema.column_types import Double, LongBinary, LongText

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_VERSIONED = ("types", "artifacts", "executions", "contexts")
_LINKS = ("events", "attributions", "associations", "parent_contexts")
_PROPERTIES = ("type_properties", "artifact_properties", "execution_properties", "context_properties")


def _node_columns(state: str | None, uri: bool) -> list[sa.Column]:
    columns: list[sa.Column] = [
        sa.Column("id", _ID, nullable=False, autoincrement=False),
        sa.Column("namespace", sa.String(length=255), nullable=False),
        sa.Column("type_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=state is not None),
        sa.Column("external_id", sa.String(length=255), nullable=True),
    ]
    if uri:
        columns.append(sa.Column("uri", LongText, nullable=True))
    if state:
        columns.append(sa.Column(state, sa.SmallInteger(), nullable=True))
    return columns + [
        sa.Column("create_time_since_epoch", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time_since_epoch", sa.BigInteger(), nullable=False),
        sa.Column("system_metadata", LongBinary, nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.BigInteger(), nullable=False),
        sa.Column("closed_by", sa.BigInteger(), nullable=False),
    ]


def _property_columns(owner: str) -> list[sa.Column]:
    return [
        sa.Column(owner, _ID, nullable=False, autoincrement=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("is_custom", sa.Boolean(), nullable=False),
        sa.Column("value_type", sa.SmallInteger(), nullable=False),
        sa.Column("int_value", sa.BigInteger(), nullable=True),
        sa.Column("double_value", Double, nullable=True),
        sa.Column("string_value", LongText, nullable=True),
        sa.Column("bool_value", sa.Boolean(), nullable=True),
        sa.Column("struct_value", LongText, nullable=True),
        sa.Column("proto_value", LongBinary, nullable=True),
        sa.Column("change_id", sa.BigInteger(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("closed_by", sa.BigInteger(), nullable=False),
    ]


def _link_columns(first: str, second: str) -> list[sa.Column]:
    return [
        sa.Column(first, _ID, nullable=False, autoincrement=False),
        sa.Column(second, _ID, nullable=False, autoincrement=False),
        sa.Column("system_metadata", LongBinary, nullable=True),
        sa.Column("change_id", sa.BigInteger(), nullable=False),
        sa.Column("closed_by", sa.BigInteger(), nullable=False),
    ]


def _history_table(name: str, columns: list[sa.Column], key: list[str]) -> None:
    op.create_table(name, *columns, sa.PrimaryKeyConstraint(*key, name=op.f(f"pk_{name}")))
    op.create_index(f"ix_{name}_closed_by", name, ["closed_by"])


def upgrade() -> None:
    for table in _VERSIONED:
        op.add_column(table, sa.Column("revision", sa.Integer(), server_default="1", nullable=False))
    for table in _VERSIONED + _LINKS + _PROPERTIES:
        op.add_column(table, sa.Column("change_id", sa.BigInteger(), server_default="0", nullable=False))

    op.create_table(
        "changes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("namespace", sa.String(length=255), server_default="default", nullable=False),
        sa.Column("recorded_ms", sa.BigInteger(), nullable=False),
        sa.Column("surface", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("peer", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_changes")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_changes_recorded_ms", "changes", ["recorded_ms", "id"])

    _history_table(
        "types_history",
        [
            sa.Column("id", _ID, nullable=False, autoincrement=False),
            sa.Column("namespace", sa.String(length=255), nullable=False),
            sa.Column("kind", sa.SmallInteger(), nullable=False),
            sa.Column("name", sa.String(length=255), nullable=False),
            sa.Column("version", sa.String(length=255), nullable=False),
            sa.Column("description", LongText, nullable=True),
            sa.Column("external_id", sa.String(length=255), nullable=True),
            sa.Column("base_type", sa.SmallInteger(), nullable=False),
            sa.Column("input_type", LongBinary, nullable=True),
            sa.Column("output_type", LongBinary, nullable=True),
            sa.Column("revision", sa.Integer(), nullable=False),
            sa.Column("change_id", sa.BigInteger(), nullable=False),
            sa.Column("closed_by", sa.BigInteger(), nullable=False),
        ],
        ["id", "revision"],
    )
    op.create_table(
        "type_properties_history",
        sa.Column("type_id", _ID, nullable=False, autoincrement=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("data_type", sa.SmallInteger(), nullable=False),
        sa.Column("change_id", sa.BigInteger(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("closed_by", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("type_id", "revision", "name", name=op.f("pk_type_properties_history")),
    )
    _history_table("artifacts_history", _node_columns("state", uri=True), ["id", "revision"])
    _history_table("executions_history", _node_columns("last_known_state", uri=False), ["id", "revision"])
    _history_table("contexts_history", _node_columns(None, uri=False), ["id", "revision"])
    for kind in ("artifact", "execution", "context"):
        _history_table(
            f"{kind}_properties_history",
            _property_columns(f"{kind}_id"),
            [f"{kind}_id", "revision", "is_custom", "name"],
        )
    _history_table(
        "events_history",
        [
            sa.Column("id", _ID, nullable=False, autoincrement=False),
            sa.Column("artifact_id", _ID, nullable=False, autoincrement=False),
            sa.Column("execution_id", _ID, nullable=False, autoincrement=False),
            sa.Column("type", sa.SmallInteger(), nullable=False),
            sa.Column("path", LongText, nullable=True),
            sa.Column("milliseconds_since_epoch", sa.BigInteger(), nullable=True),
            sa.Column("system_metadata", LongBinary, nullable=True),
            sa.Column("change_id", sa.BigInteger(), nullable=False),
            sa.Column("closed_by", sa.BigInteger(), nullable=False),
        ],
        ["id"],
    )
    _history_table(
        "attributions_history", _link_columns("context_id", "artifact_id"), ["context_id", "artifact_id"]
    )
    _history_table(
        "associations_history", _link_columns("context_id", "execution_id"), ["context_id", "execution_id"]
    )
    _history_table(
        "parent_contexts_history", _link_columns("child_id", "parent_id"), ["child_id", "parent_id"]
    )
    # A read as of change c seeks the version of a row with closed_by > c.
    for table, key in (
        ("types", "id"),
        ("type_properties", "type_id"),
        ("artifacts", "id"),
        ("executions", "id"),
        ("contexts", "id"),
        ("artifact_properties", "artifact_id"),
        ("execution_properties", "execution_id"),
        ("context_properties", "context_id"),
    ):
        op.create_index(f"ix_{table}_history_{key}_closed_by", f"{table}_history", [key, "closed_by"])
    op.create_index("ix_events_history_artifact_id", "events_history", ["artifact_id"])
    op.create_index("ix_events_history_execution_id", "events_history", ["execution_id"])
    op.create_index("ix_attributions_history_artifact_id", "attributions_history", ["artifact_id"])
    op.create_index("ix_associations_history_execution_id", "associations_history", ["execution_id"])
    op.create_index("ix_parent_contexts_history_parent_id", "parent_contexts_history", ["parent_id"])


def downgrade() -> None:
    for name in (
        "parent_contexts_history",
        "associations_history",
        "attributions_history",
        "events_history",
        "context_properties_history",
        "execution_properties_history",
        "artifact_properties_history",
        "contexts_history",
        "executions_history",
        "artifacts_history",
        "type_properties_history",
        "types_history",
        "changes",
    ):
        op.drop_table(name)
    for table in _VERSIONED + _LINKS + _PROPERTIES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("change_id")
    for table in _VERSIONED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("revision")
