"""binding log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 20:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "binding_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=True),
        sa.Column("trainee_id", sa.Integer(), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("phone_mask", sa.String(length=16), nullable=False),
        sa.Column("id_card_mask", sa.String(length=18), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.CheckConstraint("action IN ('bound', 'refused', 'unbound')", name=op.f("ck_binding_log_action_known")),
        sa.ForeignKeyConstraint(["trainee_id"], ["trainees.id"], name=op.f("fk_binding_log_trainee_id_trainees"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_binding_log")),
    )
    with op.batch_alter_table("binding_log", schema=None) as batch_op:
        batch_op.create_index("ix_binding_log_at", ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_binding_log_openid"), ["openid"], unique=False)
        batch_op.create_index(batch_op.f("ix_binding_log_trainee_id"), ["trainee_id"], unique=False)


def downgrade():
    with op.batch_alter_table("binding_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_binding_log_trainee_id"))
        batch_op.drop_index(batch_op.f("ix_binding_log_openid"))
        batch_op.drop_index("ix_binding_log_at")
    op.drop_table("binding_log")
