"""completions and certificate numbers

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 21:50:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "completions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=12), nullable=False),
        sa.Column("trainee_id", sa.Integer(), nullable=False),
        sa.Column("major_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('valid', 'cancelled')", name=op.f("ck_completions_state")),
        sa.CheckConstraint("score >= 0 AND score <= 100", name=op.f("ck_completions_score")),
        sa.ForeignKeyConstraint(["major_id"], ["majors.id"], name=op.f("fk_completions_major_id_majors")),
        sa.ForeignKeyConstraint(
            ["trainee_id"], ["trainees.id"], name=op.f("fk_completions_trainee_id_trainees"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_completions")),
        sa.UniqueConstraint("number", name=op.f("uq_completions_number")),
    )
    op.create_index(op.f("ix_completions_trainee_id"), "completions", ["trainee_id"])
    op.create_index(op.f("ix_completions_attempt_id"), "completions", ["attempt_id"])
    op.create_index(
        "uq_completions_valid_trainee_major", "completions", ["trainee_id", "major_id"], unique=True,
        sqlite_where=sa.text("state = 'valid'"), postgresql_where=sa.text("state = 'valid'"),
    )


def downgrade():
    op.drop_index("uq_completions_valid_trainee_major", table_name="completions")
    op.drop_index(op.f("ix_completions_attempt_id"), table_name="completions")
    op.drop_index(op.f("ix_completions_trainee_id"), table_name="completions")
    op.drop_table("completions")
