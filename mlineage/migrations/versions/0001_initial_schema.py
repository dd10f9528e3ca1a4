"""initial schema: types, nodes, properties, events, contexts edges

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-29 03:25:57.048970
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlineage.schema.column_types import Double, LongBinary, LongText

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _on_postgresql() -> bool:
    # String property values: hash index on PostgreSQL (B-tree entries are size-capped there).
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "types",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("namespace", sa.String(length=255), server_default="default", nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), server_default="", nullable=False),
        sa.Column("description", LongText, nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("base_type", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("input_type", LongBinary, nullable=True),
        sa.Column("output_type", LongBinary, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_types")),
        sa.UniqueConstraint(
            "namespace", "kind", "external_id", name=op.f("uq_types_namespace_kind_external_id")
        ),
        sa.UniqueConstraint(
            "namespace", "kind", "name", "version", name=op.f("uq_types_namespace_kind_name_version")
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "artifacts",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("namespace", sa.String(length=255), server_default="default", nullable=False),
        sa.Column("type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("uri", LongText, nullable=True),
        sa.Column("state", sa.SmallInteger(), nullable=True),
        sa.Column("create_time_since_epoch", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_update_time_since_epoch", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("system_metadata", LongBinary, nullable=True),
        sa.ForeignKeyConstraint(["type_id"], ["types.id"], name=op.f("fk_artifacts_type_id_types")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifacts")),
        sa.UniqueConstraint("namespace", "external_id", name=op.f("uq_artifacts_namespace_external_id")),
        sa.UniqueConstraint("type_id", "name", name=op.f("uq_artifacts_type_id_name")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.create_index("ix_artifacts_create_time", ["create_time_since_epoch", "id"], unique=False)
        batch_op.create_index("ix_artifacts_namespace_id", ["namespace", "id"], unique=False)
        batch_op.create_index(
            "ix_artifacts_update_time", ["last_update_time_since_epoch", "id"], unique=False
        )
        batch_op.create_index("ix_artifacts_uri", ["uri"], unique=False, mysql_length=255)

    op.create_table(
        "contexts",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("namespace", sa.String(length=255), server_default="default", nullable=False),
        sa.Column("type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("create_time_since_epoch", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_update_time_since_epoch", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("system_metadata", LongBinary, nullable=True),
        sa.ForeignKeyConstraint(["type_id"], ["types.id"], name=op.f("fk_contexts_type_id_types")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contexts")),
        sa.UniqueConstraint("namespace", "external_id", name=op.f("uq_contexts_namespace_external_id")),
        sa.UniqueConstraint("type_id", "name", name=op.f("uq_contexts_type_id_name")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("contexts", schema=None) as batch_op:
        batch_op.create_index("ix_contexts_create_time", ["create_time_since_epoch", "id"], unique=False)
        batch_op.create_index("ix_contexts_namespace_id", ["namespace", "id"], unique=False)
        batch_op.create_index("ix_contexts_update_time", ["last_update_time_since_epoch", "id"], unique=False)

    op.create_table(
        "executions",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("namespace", sa.String(length=255), server_default="default", nullable=False),
        sa.Column("type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("last_known_state", sa.SmallInteger(), nullable=True),
        sa.Column("create_time_since_epoch", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_update_time_since_epoch", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("system_metadata", LongBinary, nullable=True),
        sa.ForeignKeyConstraint(["type_id"], ["types.id"], name=op.f("fk_executions_type_id_types")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_executions")),
        sa.UniqueConstraint("namespace", "external_id", name=op.f("uq_executions_namespace_external_id")),
        sa.UniqueConstraint("type_id", "name", name=op.f("uq_executions_type_id_name")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.create_index("ix_executions_create_time", ["create_time_since_epoch", "id"], unique=False)
        batch_op.create_index("ix_executions_namespace_id", ["namespace", "id"], unique=False)
        batch_op.create_index(
            "ix_executions_update_time", ["last_update_time_since_epoch", "id"], unique=False
        )

    op.create_table(
        "type_properties",
        sa.Column("type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("data_type", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["type_id"], ["types.id"], name=op.f("fk_type_properties_type_id_types"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("type_id", "name", name=op.f("pk_type_properties")),
    )
    op.create_table(
        "artifact_properties",
        sa.Column("artifact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("is_custom", sa.Boolean(), nullable=False),
        sa.Column("value_type", sa.SmallInteger(), nullable=False),
        sa.Column("int_value", sa.BigInteger(), nullable=True),
        sa.Column("double_value", Double, nullable=True),
        sa.Column("string_value", LongText, nullable=True),
        sa.Column("bool_value", sa.Boolean(), nullable=True),
        sa.Column("struct_value", LongText, nullable=True),
        sa.Column("proto_value", LongBinary, nullable=True),
        sa.ForeignKeyConstraint(
            ["artifact_id"],
            ["artifacts.id"],
            name=op.f("fk_artifact_properties_artifact_id_artifacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("artifact_id", "is_custom", "name", name=op.f("pk_artifact_properties")),
    )
    with op.batch_alter_table("artifact_properties", schema=None) as batch_op:
        batch_op.create_index(
            "ix_artifact_properties_bool_value", ["name", "is_custom", "bool_value"], unique=False
        )
        batch_op.create_index(
            "ix_artifact_properties_double_value", ["name", "is_custom", "double_value"], unique=False
        )
        batch_op.create_index(
            "ix_artifact_properties_int_value", ["name", "is_custom", "int_value"], unique=False
        )
        if _on_postgresql():
            batch_op.create_index(
                "ix_artifact_properties_string_hash", ["string_value"], unique=False, postgresql_using="hash"
            )
        else:
            batch_op.create_index(
                "ix_artifact_properties_string_value", ["name", "is_custom", "string_value"], unique=False,
                mysql_length={"string_value": 255},
            )

    op.create_table(
        "associations",
        sa.Column("context_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("execution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("system_metadata", LongBinary, nullable=True),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_associations_context_id_contexts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_associations_execution_id_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("context_id", "execution_id", name=op.f("pk_associations")),
    )
    with op.batch_alter_table("associations", schema=None) as batch_op:
        batch_op.create_index("ix_associations_execution_id", ["execution_id"], unique=False)

    op.create_table(
        "attributions",
        sa.Column("context_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("artifact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("system_metadata", LongBinary, nullable=True),
        sa.ForeignKeyConstraint(
            ["artifact_id"],
            ["artifacts.id"],
            name=op.f("fk_attributions_artifact_id_artifacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_attributions_context_id_contexts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("context_id", "artifact_id", name=op.f("pk_attributions")),
    )
    with op.batch_alter_table("attributions", schema=None) as batch_op:
        batch_op.create_index("ix_attributions_artifact_id", ["artifact_id"], unique=False)

    op.create_table(
        "context_properties",
        sa.Column("context_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("is_custom", sa.Boolean(), nullable=False),
        sa.Column("value_type", sa.SmallInteger(), nullable=False),
        sa.Column("int_value", sa.BigInteger(), nullable=True),
        sa.Column("double_value", Double, nullable=True),
        sa.Column("string_value", LongText, nullable=True),
        sa.Column("bool_value", sa.Boolean(), nullable=True),
        sa.Column("struct_value", LongText, nullable=True),
        sa.Column("proto_value", LongBinary, nullable=True),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_context_properties_context_id_contexts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("context_id", "is_custom", "name", name=op.f("pk_context_properties")),
    )
    with op.batch_alter_table("context_properties", schema=None) as batch_op:
        batch_op.create_index(
            "ix_context_properties_bool_value", ["name", "is_custom", "bool_value"], unique=False
        )
        batch_op.create_index(
            "ix_context_properties_double_value", ["name", "is_custom", "double_value"], unique=False
        )
        batch_op.create_index(
            "ix_context_properties_int_value", ["name", "is_custom", "int_value"], unique=False
        )
        if _on_postgresql():
            batch_op.create_index(
                "ix_context_properties_string_hash", ["string_value"], unique=False, postgresql_using="hash"
            )
        else:
            batch_op.create_index(
                "ix_context_properties_string_value", ["name", "is_custom", "string_value"], unique=False,
                mysql_length={"string_value": 255},
            )

    op.create_table(
        "events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("artifact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("execution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("type", sa.SmallInteger(), nullable=False),
        sa.Column("path", LongText, nullable=True),
        sa.Column("milliseconds_since_epoch", sa.BigInteger(), nullable=True),
        sa.Column("system_metadata", LongBinary, nullable=True),
        sa.ForeignKeyConstraint(
            ["artifact_id"],
            ["artifacts.id"],
            name=op.f("fk_events_artifact_id_artifacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_events_execution_id_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint(
            "artifact_id", "execution_id", "type", name=op.f("uq_events_artifact_id_execution_id_type")
        ),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_execution_id", ["execution_id", "type"], unique=False)

    op.create_table(
        "execution_properties",
        sa.Column("execution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("is_custom", sa.Boolean(), nullable=False),
        sa.Column("value_type", sa.SmallInteger(), nullable=False),
        sa.Column("int_value", sa.BigInteger(), nullable=True),
        sa.Column("double_value", Double, nullable=True),
        sa.Column("string_value", LongText, nullable=True),
        sa.Column("bool_value", sa.Boolean(), nullable=True),
        sa.Column("struct_value", LongText, nullable=True),
        sa.Column("proto_value", LongBinary, nullable=True),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_execution_properties_execution_id_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("execution_id", "is_custom", "name", name=op.f("pk_execution_properties")),
    )
    with op.batch_alter_table("execution_properties", schema=None) as batch_op:
        batch_op.create_index(
            "ix_execution_properties_bool_value", ["name", "is_custom", "bool_value"], unique=False
        )
        batch_op.create_index(
            "ix_execution_properties_double_value", ["name", "is_custom", "double_value"], unique=False
        )
        batch_op.create_index(
            "ix_execution_properties_int_value", ["name", "is_custom", "int_value"], unique=False
        )
        if _on_postgresql():
            batch_op.create_index(
                "ix_execution_properties_string_hash", ["string_value"], unique=False, postgresql_using="hash"
            )
        else:
            batch_op.create_index(
                "ix_execution_properties_string_value", ["name", "is_custom", "string_value"], unique=False,
                mysql_length={"string_value": 255},
            )

    op.create_table(
        "parent_contexts",
        sa.Column("child_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("parent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("system_metadata", LongBinary, nullable=True),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["contexts.id"],
            name=op.f("fk_parent_contexts_child_id_contexts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["contexts.id"],
            name=op.f("fk_parent_contexts_parent_id_contexts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("child_id", "parent_id", name=op.f("pk_parent_contexts")),
    )
    with op.batch_alter_table("parent_contexts", schema=None) as batch_op:
        batch_op.create_index("ix_parent_contexts_parent_id", ["parent_id"], unique=False)
    _seed_system_types()


# MLMD seeds these in every new database, in this order, so user types start at id 10.
SYSTEM_TYPES = [
    (1, "mlmd.Dataset"),
    (1, "mlmd.Model"),
    (1, "mlmd.Metrics"),
    (1, "mlmd.Statistics"),
    (0, "mlmd.Train"),
    (0, "mlmd.Transform"),
    (0, "mlmd.Process"),
    (0, "mlmd.Evaluate"),
    (0, "mlmd.Deploy"),
]


def _seed_system_types() -> None:
    types = sa.table("types", sa.column("kind", sa.SmallInteger), sa.column("name", sa.String))
    # Row by row, without explicit ids, so that sequences advance on every backend.
    for kind, name in SYSTEM_TYPES:
        op.execute(types.insert().values(kind=kind, name=name))


def downgrade() -> None:
    with op.batch_alter_table("parent_contexts", schema=None) as batch_op:
        batch_op.drop_index("ix_parent_contexts_parent_id")

    op.drop_table("parent_contexts")
    with op.batch_alter_table("execution_properties", schema=None) as batch_op:
        if _on_postgresql():
            batch_op.drop_index("ix_execution_properties_string_hash", postgresql_using="hash")
        else:
            batch_op.drop_index("ix_execution_properties_string_value")
        batch_op.drop_index("ix_execution_properties_int_value")
        batch_op.drop_index("ix_execution_properties_double_value")
        batch_op.drop_index("ix_execution_properties_bool_value")

    op.drop_table("execution_properties")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_execution_id")

    op.drop_table("events")
    with op.batch_alter_table("context_properties", schema=None) as batch_op:
        if _on_postgresql():
            batch_op.drop_index("ix_context_properties_string_hash", postgresql_using="hash")
        else:
            batch_op.drop_index("ix_context_properties_string_value")
        batch_op.drop_index("ix_context_properties_int_value")
        batch_op.drop_index("ix_context_properties_double_value")
        batch_op.drop_index("ix_context_properties_bool_value")

    op.drop_table("context_properties")
    with op.batch_alter_table("attributions", schema=None) as batch_op:
        batch_op.drop_index("ix_attributions_artifact_id")

    op.drop_table("attributions")
    with op.batch_alter_table("associations", schema=None) as batch_op:
        batch_op.drop_index("ix_associations_execution_id")

    op.drop_table("associations")
    with op.batch_alter_table("artifact_properties", schema=None) as batch_op:
        if _on_postgresql():
            batch_op.drop_index("ix_artifact_properties_string_hash", postgresql_using="hash")
        else:
            batch_op.drop_index("ix_artifact_properties_string_value")
        batch_op.drop_index("ix_artifact_properties_int_value")
        batch_op.drop_index("ix_artifact_properties_double_value")
        batch_op.drop_index("ix_artifact_properties_bool_value")

    op.drop_table("artifact_properties")
    op.drop_table("type_properties")
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_index("ix_executions_update_time")
        batch_op.drop_index("ix_executions_namespace_id")
        batch_op.drop_index("ix_executions_create_time")

    op.drop_table("executions")
    with op.batch_alter_table("contexts", schema=None) as batch_op:
        batch_op.drop_index("ix_contexts_update_time")
        batch_op.drop_index("ix_contexts_namespace_id")
        batch_op.drop_index("ix_contexts_create_time")

    op.drop_table("contexts")
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.drop_index("ix_artifacts_uri")
        batch_op.drop_index("ix_artifacts_update_time")
        batch_op.drop_index("ix_artifacts_namespace_id")
        batch_op.drop_index("ix_artifacts_create_time")

    op.drop_table("artifacts")
    op.drop_table("types")
