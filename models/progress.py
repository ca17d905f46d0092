"""Confirmed study progress: what each trainee has watched of each lesson, and when its hours were earned.

The hot state of a player page lives in Redis; these rows are written at meaningful points (an
attendance check passed, a lesson completed) and are what staff records show.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Float, ForeignKey, Numeric, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models import Base
from models.types import UTCDateTime, utcnow


class LessonProgress(Base):
    """One trainee's confirmed watching of one lesson.

    `watched` is a JSON list of [start, end] seconds, merged: the parts credited and confirmed
    by a passed attendance check. The lesson's hours are earned at `completed_at`.
    """

    __tablename__ = "lesson_progress"
    __table_args__ = (
        UniqueConstraint("trainee_id", "lesson_id"),
        CheckConstraint("credited_seconds >= 0 AND position >= 0 AND max_position >= 0", name="not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainees.id", ondelete="CASCADE"))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    watched: Mapped[str] = mapped_column(Text, default="[]")
    credited_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    max_position: Mapped[float] = mapped_column(Float, default=0.0)
    position: Mapped[float] = mapped_column(Float, default=0.0)  # where the player resumes
    video_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exercise_passed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class HoursSummary(Base):
    """One trainee's lesson-progress rows of one course, summed: how many lessons were started and
    completed, and the completed lessons' hours (not capped at what the course requires: that may
    change, so the cap is applied when read).

    Derived, never edited: `services.study.hours` recounts a trainee's rows from their progress rows
    in the same transaction as any change to those rows or to a lesson's hours. A trainee with no
    progress in a course has no row.
    """

    __tablename__ = "hours_summary"
    __table_args__ = (
        CheckConstraint("lessons_started > 0 AND lessons_completed >= 0 AND hours_earned >= 0", name="counts"),
    )

    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainees.id", ondelete="CASCADE"), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True,
                                           index=True)
    lessons_started: Mapped[int]
    lessons_completed: Mapped[int]
    hours_earned: Mapped[Decimal] = mapped_column(Numeric(7, 2))
