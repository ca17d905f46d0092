"""After-lesson exercises (课后练习): the questions of a lesson and each trainee's attempts."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models import Base
from models.types import UTCDateTime, utcnow


class ExerciseQuestion(Base):
    """One question of a lesson's 课后练习; `options` is a JSON list, `answer` the letters (A, AC)."""

    __tablename__ = "exercise_questions"
    __table_args__ = (
        UniqueConstraint("lesson_id", "position"),
        CheckConstraint("kind IN ('single', 'multi', 'judge')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(String(8))
    stem: Mapped[str] = mapped_column(Text)
    options: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(String(8))


class ExerciseAttempt(Base):
    """One 交卷 of a lesson's exercise: how many answers were right, and what was answered."""

    __tablename__ = "exercise_attempts"
    __table_args__ = (Index("ix_exercise_attempts_trainee_lesson", "trainee_id", "lesson_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainees.id", ondelete="CASCADE"))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    correct: Mapped[int]
    total: Mapped[int]
    passed: Mapped[bool]
    answers: Mapped[str] = mapped_column(Text)

