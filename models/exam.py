"""The online exam (考试): the question bank, attempts with their drawn paper, and answers.

A trainee's exam of a major is their enrollment in it: the enrollment's id is the exam's id,
so there is no exam table. Each attempt stores the paper drawn for it (questions and shuffled
option order) so a reload shows the same paper; answers are rows of their own so that two
answers saved at once can't overwrite each other. Every attempt is kept, voided ones too.
"""
from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import Base
from models.catalog import Major
from models.trainee import Enrollment, Trainee
from models.types import UTCDateTime, utcnow

QUESTION_KINDS = ("single", "multi", "judge")
PUBLIC_POOL = "public"  # the 公共 pool; a major's pool is named by the major's code


class PaperItem(TypedDict):
    """One question of a drawn paper: its id and the original option letters in the order shown."""

    q: int
    o: list[str]


class ExamQuestion(Base):
    """One question of a pool. `answer` holds option letters (A, ACD) or, for 判断, T or F."""

    __tablename__ = "exam_questions"
    __table_args__ = (
        UniqueConstraint("pool", "stem_hash"),
        CheckConstraint("kind IN ('single', 'multi', 'judge')", name="kind_known"),
        Index("ix_exam_questions_pool_kind", "pool", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pool: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(8))
    # SHA-256 of the stem: "the same question" is the same 专业 and 题干 (CONTRACT §7).
    stem_hash: Mapped[str] = mapped_column(String(64))
    stem: Mapped[str] = mapped_column(Text)
    options: Mapped[list[str]] = mapped_column(JSON)
    answer: Mapped[str] = mapped_column(String(8))
    explanation: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ExamAttempt(Base):
    """One sitting of a trainee's exam of a major (一次考试)."""

    __tablename__ = "exam_attempts"
    __table_args__ = (
        # One open attempt per exam, and one standing pass: the database keeps both true under races.
        Index("uq_exam_attempts_open", "enrollment_id", unique=True,
              sqlite_where=text("submitted_at IS NULL"), postgresql_where=text("submitted_at IS NULL")),
        Index("uq_exam_attempts_passed", "enrollment_id", unique=True,
              sqlite_where=text("passed AND voided_at IS NULL"),
              postgresql_where=text("passed AND voided_at IS NULL")),
        Index("ix_exam_attempts_open_deadline", "deadline",
              sqlite_where=text("submitted_at IS NULL"), postgresql_where=text("submitted_at IS NULL")),
        CheckConstraint("score IS NULL OR (score >= 0 AND score <= 100)", name="score"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"))
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainees.id", ondelete="CASCADE"), index=True)
    major_id: Mapped[int] = mapped_column(ForeignKey("majors.id"))
    # SHA-256 of the browser session's exam token; NULL after staff release it (the next session claims it).
    session_hash: Mapped[str | None] = mapped_column(String(64))
    # [{"q": question id, "o": option letters in the order shown}], in the order shown.
    paper: Mapped[list[PaperItem]] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "trainee" (交卷) or "deadline" (graded as it stood when time ran out).
    submitted_by: Mapped[str | None] = mapped_column(String(16))
    score: Mapped[int | None]
    correct: Mapped[int | None]
    total: Mapped[int | None]
    passed: Mapped[bool | None]
    photo_before: Mapped[str | None] = mapped_column(String(200))
    photo_after: Mapped[str | None] = mapped_column(String(200))
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_by: Mapped[str | None] = mapped_column(String(64))
    void_reason: Mapped[str | None] = mapped_column(String(200))

    enrollment: Mapped[Enrollment] = relationship()
    trainee: Mapped[Trainee] = relationship()
    major: Mapped[Major] = relationship()

    @property
    def is_open(self) -> bool:
        return self.submitted_at is None

    def __repr__(self) -> str:
        return f"<ExamAttempt {self.id}>"


class ExamAnswer(Base):
    """The answer given to one question of an attempt, as the keys shown on the paper."""

    __tablename__ = "exam_answers"
    __table_args__ = (UniqueConstraint("attempt_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("exam_attempts.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("exam_questions.id"))
    keys: Mapped[str] = mapped_column(String(8))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
