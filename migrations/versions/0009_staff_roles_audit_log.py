"""staff roles, the audit log of the staff console, fees marked paid

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 22:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("role", sa.String(length=8), server_default="staff", nullable=False))
        batch.create_check_constraint(op.f("ck_staff_users_role_known"), "role IN ('admin', 'staff')")
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.add_column("enrollments", sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("enrollments") as batch:
        batch.drop_column("paid_at")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_constraint(op.f("ck_staff_users_role_known"), type_="check")
        batch.drop_column("role")
