"""the hours summary: each trainee's lesson-progress rows summed per course, backfilled

Revision ID: 0011_hours_summary
Revises: 0009
Create Date: 2026-12-08 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0011_hours_summary"
down_revision = "0010_lesson_retired_at"
branch_labels = None
depends_on = None

# The definition `services.study.hours.recount` keeps (a migration doesn't import the app's code).
BACKFILL = """
INSERT INTO hours_summary (trainee_id, course_id, lessons_started, lessons_completed, hours_earned)
SELECT lesson_progress.trainee_id, lessons.course_id, count(*), count(lesson_progress.completed_at),
       coalesce(sum(CASE WHEN lesson_progress.completed_at IS NOT NULL THEN lessons.hours END), 0)
FROM lesson_progress JOIN lessons ON lessons.id = lesson_progress.lesson_id
GROUP BY lesson_progress.trainee_id, lessons.course_id
"""


def upgrade():
    op.create_table(
        "hours_summary",
        sa.Column("trainee_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("lessons_started", sa.Integer(), nullable=False),
        sa.Column("lessons_completed", sa.Integer(), nullable=False),
        sa.Column("hours_earned", sa.Numeric(precision=7, scale=2), nullable=False),
        sa.CheckConstraint("lessons_started > 0 AND lessons_completed >= 0 AND hours_earned >= 0",
                           name=op.f("ck_hours_summary_counts")),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], name=op.f("fk_hours_summary_course_id_courses"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["trainee_id"], ["trainees.id"], name=op.f("fk_hours_summary_trainee_id_trainees"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("trainee_id", "course_id", name=op.f("pk_hours_summary")),
    )
    op.create_index(op.f("ix_hours_summary_course_id"), "hours_summary", ["course_id"], unique=False)
    op.execute(BACKFILL)


def downgrade():
    op.drop_index(op.f("ix_hours_summary_course_id"), table_name="hours_summary")
    op.drop_table("hours_summary")
