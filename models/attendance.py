"""Attendance checks (考勤验证) issued at random while a lesson plays, and refused scans of them."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models import Base
from models.types import UTCDateTime, utcnow


class AttendanceCheck(Base):
    """A random 考勤验证 issued while a lesson played. Only the token's SHA-256 is kept here."""

    __tablename__ = "attendance_checks"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'verified', 'expired')", name="status_known"),
        Index("ix_attendance_checks_trainee_issued", "trainee_id", "issued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainees.id", ondelete="CASCADE"))
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lessons.id", ondelete="SET NULL"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_openid: Mapped[str | None] = mapped_column(String(64))


class AttendanceRefusal(Base):
    """A scan of a check's QR by a WeChat other than the one bound to the check's trainee."""

    __tablename__ = "attendance_refusals"

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("attendance_checks.id", ondelete="CASCADE"), index=True)
    openid: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
