"""staff console sessions, ended on the server at logout, password change or disable

Revision ID: 0014_staff_sessions
Revises: 0013_outbox_faults
Create Date: 2026-12-07 02:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0014_staff_sessions"
down_revision = "0013_outbox_faults"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["staff_user_id"], ["staff_users.id"],
                                name=op.f("fk_staff_sessions_staff_user_id_staff_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_sessions_token_hash")),
    )
    op.create_index(op.f("ix_staff_sessions_staff_user_id"), "staff_sessions", ["staff_user_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_staff_sessions_staff_user_id"), table_name="staff_sessions")
    op.drop_table("staff_sessions")
