"""the online exam: question bank, attempts, answers; notice kinds of the exam

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 22:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OLD_KINDS = ("class_open", "class_reminder", "registration_expiry")
NEW_KINDS = OLD_KINDS + ("exam_result", "exam_voided")


def _kinds(kinds) -> str:
    return f"kind IN ({', '.join(repr(k) for k in kinds)})"


def _set_notice_kinds(kinds) -> None:
    # batch mode: SQLite can only change a CHECK constraint by copying the table.
    with op.batch_alter_table("notices", recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_notices_kind_known"), type_="check")
        batch.create_check_constraint("kind_known", _kinds(kinds))


def upgrade():
    op.create_table(
        "exam_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pool", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("stem_hash", sa.String(length=64), nullable=False),
        sa.Column("stem", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("answer", sa.String(length=8), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('single', 'multi', 'judge')", name=op.f("ck_exam_questions_kind_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_questions")),
        sa.UniqueConstraint("pool", "stem_hash", name=op.f("uq_exam_questions_pool_stem_hash")),
    )
    op.create_index("ix_exam_questions_pool_kind", "exam_questions", ["pool", "kind"])
    op.create_table(
        "exam_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrollment_id", sa.Integer(), nullable=False),
        sa.Column("trainee_id", sa.Integer(), nullable=False),
        sa.Column("major_id", sa.Integer(), nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=True),
        sa.Column("paper", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_by", sa.String(length=16), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("correct", sa.Integer(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("photo_before", sa.String(length=200), nullable=True),
        sa.Column("photo_after", sa.String(length=200), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_by", sa.String(length=64), nullable=True),
        sa.Column("void_reason", sa.String(length=200), nullable=True),
        sa.CheckConstraint("score IS NULL OR (score >= 0 AND score <= 100)", name=op.f("ck_exam_attempts_score")),
        sa.ForeignKeyConstraint(["enrollment_id"], ["enrollments.id"],
                                name=op.f("fk_exam_attempts_enrollment_id_enrollments"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["major_id"], ["majors.id"], name=op.f("fk_exam_attempts_major_id_majors")),
        sa.ForeignKeyConstraint(["trainee_id"], ["trainees.id"],
                                name=op.f("fk_exam_attempts_trainee_id_trainees"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_attempts")),
    )
    op.create_index(op.f("ix_exam_attempts_trainee_id"), "exam_attempts", ["trainee_id"])
    op.create_index("uq_exam_attempts_open", "exam_attempts", ["enrollment_id"], unique=True,
                    sqlite_where=sa.text("submitted_at IS NULL"), postgresql_where=sa.text("submitted_at IS NULL"))
    op.create_index("uq_exam_attempts_passed", "exam_attempts", ["enrollment_id"], unique=True,
                    sqlite_where=sa.text("passed AND voided_at IS NULL"),
                    postgresql_where=sa.text("passed AND voided_at IS NULL"))
    op.create_index("ix_exam_attempts_open_deadline", "exam_attempts", ["deadline"],
                    sqlite_where=sa.text("submitted_at IS NULL"), postgresql_where=sa.text("submitted_at IS NULL"))
    op.create_table(
        "exam_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("keys", sa.String(length=8), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["exam_attempts.id"],
                                name=op.f("fk_exam_answers_attempt_id_exam_attempts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["question_id"], ["exam_questions.id"],
                                name=op.f("fk_exam_answers_question_id_exam_questions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_answers")),
        sa.UniqueConstraint("attempt_id", "question_id", name=op.f("uq_exam_answers_attempt_id_question_id")),
    )
    _set_notice_kinds(NEW_KINDS)


def downgrade():
    op.execute(sa.text("DELETE FROM notices WHERE kind IN ('exam_result', 'exam_voided')"))
    _set_notice_kinds(OLD_KINDS)
    op.drop_table("exam_answers")
    op.drop_index("ix_exam_attempts_open_deadline", table_name="exam_attempts")
    op.drop_index("uq_exam_attempts_passed", table_name="exam_attempts")
    op.drop_index("uq_exam_attempts_open", table_name="exam_attempts")
    op.drop_index(op.f("ix_exam_attempts_trainee_id"), table_name="exam_attempts")
    op.drop_table("exam_attempts")
    op.drop_index("ix_exam_questions_pool_kind", table_name="exam_questions")
    op.drop_table("exam_questions")
