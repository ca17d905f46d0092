"""Confirmed study progress: what each trainee has watched of each lesson, and when its hours were earned.

The hot state of a player page lives in Redis; these rows are written at meaningful points (an
attendance check passed, a lesson completed) and are what staff records show.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Text, UniqueConstraint
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
