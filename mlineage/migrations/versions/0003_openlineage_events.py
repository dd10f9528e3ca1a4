"""openlineage_events: OpenLineage events as received by POST /api/v1/lineage

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlineage.schema.column_types import LongText

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "openlineage_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("namespace", sa.String(length=255), server_default="default", nullable=False),
        sa.Column("received_time_since_epoch", sa.BigInteger(), nullable=False),
        sa.Column("event_time", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=16), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("job_namespace", LongText, nullable=True),
        sa.Column("job_name", LongText, nullable=True),
        sa.Column("producer", LongText, nullable=True),
        sa.Column("payload", LongText, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_openlineage_events")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_openlineage_events_run_id", "openlineage_events", ["run_id", "id"])
    op.create_index("ix_openlineage_events_namespace_id", "openlineage_events", ["namespace", "id"])


def downgrade() -> None:
    op.drop_index("ix_openlineage_events_namespace_id", table_name="openlineage_events")
    op.drop_index("ix_openlineage_events_run_id", table_name="openlineage_events")
    op.drop_table("openlineage_events")
