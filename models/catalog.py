"""The catalog: the six majors with their fees, courses and their video lessons."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import Base
from models.types import UTCDateTime

COURSE_PUBLIC = "public"
COURSE_PROFESSIONAL = "professional"


class Major(Base):
    """A 专业 and its fee per trainee as 主项 (main) and as 增项 (added)."""

    __tablename__ = "majors"
    __table_args__ = (
        CheckConstraint("fee_main > 0 AND fee_added > 0", name="fees_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    fee_main: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    fee_added: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    position: Mapped[int] = mapped_column(default=0)

    def fee_for(self, kind: str) -> Decimal:
        return self.fee_main if kind == "main" else self.fee_added

    def __repr__(self) -> str:
        return f"<Major {self.code}>"


class Course(Base):
    """One 公共课 for everyone, one 专业课 per major."""

    __tablename__ = "courses"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'public' AND major_id IS NULL) OR (kind = 'professional' AND major_id IS NOT NULL)",
            name="kind_matches_major",
        ),
        CheckConstraint("hours_required > 0", name="hours_positive"),
        UniqueConstraint("major_id"),
        Index(
            "uq_courses_one_public", "kind", unique=True,
            sqlite_where=text("kind = 'public'"), postgresql_where=text("kind = 'public'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    major_id: Mapped[int | None] = mapped_column(ForeignKey("majors.id"))
    name: Mapped[str] = mapped_column(String(128))
    hours_required: Mapped[Decimal] = mapped_column(Numeric(5, 1))

    major: Mapped[Major | None] = relationship()
    lessons: Mapped[list[Lesson]] = relationship(
        back_populates="course", order_by="Lesson.position", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Course {self.kind} {self.name}>"


class Lesson(Base):
    """A 视频课时: one video of a course, worth some hours once earned.

    A lesson is never deleted (trainees' progress points at it); staff retire it instead
    (`retired_at` set): trainees no longer see or start it, and hours earned on it still count.
    """

    __tablename__ = "lessons"
    __table_args__ = (
        UniqueConstraint("course_id", "title"),
        CheckConstraint("duration_s > 0", name="duration_positive"),
        CheckConstraint("hours > 0", name="hours_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    video_url: Mapped[str] = mapped_column(String(500))
    duration_s: Mapped[int]
    hours: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    position: Mapped[int] = mapped_column(default=0)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    course: Mapped[Course] = relationship(back_populates="lessons")

    @property
    def retired(self) -> bool:
        return self.retired_at is not None
