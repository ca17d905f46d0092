"""lessons.retired_at: staff retire a lesson instead of deleting it

Revision ID: 0010_lesson_retired_at
Revises: 0009
Create Date: 2026-12-02 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0010_lesson_retired_at"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("lessons", sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("lessons") as batch:
        batch.drop_column("retired_at")
