"""contexts name index: a filter on a context's name alone (contexts_a.name = ...) seeks instead of scanning

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 17:15:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_contexts_name", "contexts", ["name"])


def downgrade() -> None:
    op.drop_index("ix_contexts_name", table_name="contexts")
