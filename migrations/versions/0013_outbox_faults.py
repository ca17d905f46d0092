"""outbox.tried_at: when the current claim's request was about to leave

Revision ID: 0013_outbox_faults
Revises: 0012_notice_premise
Create Date: 2026-12-07 03:00:00

A dispatcher killed while holding claimed rows left them all `unknown`; only those whose request
may have left must be: a row `sending` without `tried_at` goes back to `pending` instead.
"""
import sqlalchemy as sa
from alembic import op

revision = "0013_outbox_faults"
down_revision = "0012_notice_premise"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("outbox", sa.Column("tried_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column("outbox", "tried_at")
