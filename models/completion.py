"""Completions (结业): a trainee who passed a major's exam has completed it, with a certificate number.

A completion is `valid` until staff void the exam that earned it; it is then `cancelled`, never
deleted, so a certificate already printed still verifies as cancelled. At most one valid
completion per trainee and major (a partial unique index, on SQLite and PostgreSQL alike).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import Base
from models.catalog import Major
from models.trainee import Trainee
from models.types import UTCDateTime, utcnow

COMPLETION_STATES = ("valid", "cancelled")


class Completion(Base):
    __tablename__ = "completions"
    __table_args__ = (
        CheckConstraint("state IN ('valid', 'cancelled')", name="state"),
        CheckConstraint("score >= 0 AND score <= 100", name="score"),
        Index(
            "uq_completions_valid_trainee_major", "trainee_id", "major_id", unique=True,
            sqlite_where=text("state = 'valid'"), postgresql_where=text("state = 'valid'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(12), unique=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainees.id", ondelete="CASCADE"), index=True)
    major_id: Mapped[int] = mapped_column(ForeignKey("majors.id"))
    # The exam attempt that earned it; the exam's tables come later, so no foreign key here.
    attempt_id: Mapped[int | None] = mapped_column(index=True)
    score: Mapped[int]
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default="valid")
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    trainee: Mapped[Trainee] = relationship()
    major: Mapped[Major] = relationship()

    def __repr__(self) -> str:
        return f"<Completion {self.number} {self.state}>"
