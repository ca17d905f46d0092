"""study: lesson progress, attendance checks and refusals, exercise questions and attempts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 20:43:29

"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("attendance_checks",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("public_id", sa.String(length=32), nullable=False),
    sa.Column("trainee_id", sa.Integer(), nullable=False),
    sa.Column("lesson_id", sa.Integer(), nullable=True),
    sa.Column("token_hash", sa.String(length=64), nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("verified_openid", sa.String(length=64), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'verified', 'expired')", name=op.f('ck_attendance_checks_status_known')),
    sa.ForeignKeyConstraint(["lesson_id"], ['lessons.id'], name=op.f("fk_attendance_checks_lesson_id_lessons"), ondelete="SET NULL"),
    sa.ForeignKeyConstraint(["trainee_id"], ['trainees.id'], name=op.f("fk_attendance_checks_trainee_id_trainees"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance_checks")),
    sa.UniqueConstraint("public_id", name=op.f("uq_attendance_checks_public_id")),
    sa.UniqueConstraint("token_hash", name=op.f("uq_attendance_checks_token_hash"))
    )
    with op.batch_alter_table("attendance_checks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attendance_checks_lesson_id"), ["lesson_id"], unique=False)
        batch_op.create_index("ix_attendance_checks_trainee_issued", ["trainee_id", "issued_at"], unique=False)

    op.create_table("exercise_attempts",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("trainee_id", sa.Integer(), nullable=False),
    sa.Column("lesson_id", sa.Integer(), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("correct", sa.Integer(), nullable=False),
    sa.Column("total", sa.Integer(), nullable=False),
    sa.Column("passed", sa.Boolean(), nullable=False),
    sa.Column("answers", sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(["lesson_id"], ['lessons.id'], name=op.f("fk_exercise_attempts_lesson_id_lessons"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["trainee_id"], ['trainees.id'], name=op.f("fk_exercise_attempts_trainee_id_trainees"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_exercise_attempts"))
    )
    with op.batch_alter_table("exercise_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_exercise_attempts_trainee_lesson", ["trainee_id", "lesson_id"], unique=False)

    op.create_table("exercise_questions",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("lesson_id", sa.Integer(), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(length=8), nullable=False),
    sa.Column("stem", sa.Text(), nullable=False),
    sa.Column("options", sa.Text(), nullable=False),
    sa.Column("answer", sa.String(length=8), nullable=False),
    sa.CheckConstraint("kind IN ('single', 'multi', 'judge')", name=op.f('ck_exercise_questions_kind_known')),
    sa.ForeignKeyConstraint(["lesson_id"], ['lessons.id'], name=op.f("fk_exercise_questions_lesson_id_lessons"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_exercise_questions")),
    sa.UniqueConstraint("lesson_id", "position", name=op.f("uq_exercise_questions_lesson_id_position"))
    )
    op.create_table("lesson_progress",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("trainee_id", sa.Integer(), nullable=False),
    sa.Column("lesson_id", sa.Integer(), nullable=False),
    sa.Column("watched", sa.Text(), nullable=False),
    sa.Column("credited_seconds", sa.Float(), nullable=False),
    sa.Column("max_position", sa.Float(), nullable=False),
    sa.Column("position", sa.Float(), nullable=False),
    sa.Column("video_done_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("exercise_passed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('credited_seconds >= 0 AND position >= 0 AND max_position >= 0', name=op.f('ck_lesson_progress_not_negative')),
    sa.ForeignKeyConstraint(["lesson_id"], ['lessons.id'], name=op.f("fk_lesson_progress_lesson_id_lessons"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["trainee_id"], ['trainees.id'], name=op.f("fk_lesson_progress_trainee_id_trainees"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_lesson_progress")),
    sa.UniqueConstraint("trainee_id", "lesson_id", name=op.f("uq_lesson_progress_trainee_id_lesson_id"))
    )
    with op.batch_alter_table("lesson_progress", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lesson_progress_lesson_id"), ["lesson_id"], unique=False)

    op.create_table("attendance_refusals",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("check_id", sa.Integer(), nullable=False),
    sa.Column("openid", sa.String(length=64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["check_id"], ['attendance_checks.id'], name=op.f("fk_attendance_refusals_check_id_attendance_checks"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance_refusals"))
    )
    with op.batch_alter_table("attendance_refusals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attendance_refusals_check_id"), ["check_id"], unique=False)



def downgrade():
    with op.batch_alter_table("attendance_refusals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attendance_refusals_check_id"))

    op.drop_table("attendance_refusals")
    with op.batch_alter_table("lesson_progress", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lesson_progress_lesson_id"))

    op.drop_table("lesson_progress")
    op.drop_table("exercise_questions")
    with op.batch_alter_table("exercise_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_exercise_attempts_trainee_lesson")

    op.drop_table("exercise_attempts")
    with op.batch_alter_table("attendance_checks", schema=None) as batch_op:
        batch_op.drop_index("ix_attendance_checks_trainee_issued")
        batch_op.drop_index(batch_op.f("ix_attendance_checks_lesson_id"))

    op.drop_table("attendance_checks")
