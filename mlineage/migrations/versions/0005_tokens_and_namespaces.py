"""tokens and namespaces: bearer tokens (salted hashes only) and the namespaces made by `mlineage namespace create`

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 13:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlineage.schema.column_types import LongText

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("namespace", sa.String(length=255), server_default="default", nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=128), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=True),
        sa.Column("revoked_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
    )
    op.create_table(
        "namespaces",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("description", LongText, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_namespaces")),
    )


def downgrade() -> None:
    op.drop_table("namespaces")
    op.drop_table("tokens")
