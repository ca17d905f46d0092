"""Trainees (学员) from the enrollment rosters and their enrollments per major."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import Base
from models.catalog import Major
from models.types import UTCDateTime, utcnow

ENROLLMENT_MAIN = "main"    # 主项
ENROLLMENT_ADDED = "added"  # 增项


class Trainee(Base):
    """A person on a roster. The ID card number is stored encrypted, found by its keyed hash."""

    __tablename__ = "trainees"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(11), index=True)
    company: Mapped[str] = mapped_column(String(200), default="")
    id_card_hash: Mapped[str] = mapped_column(String(64), unique=True)
    id_card_enc: Mapped[str] = mapped_column(Text)
    id_card_mask: Mapped[str] = mapped_column(String(18))
    is_demo: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    enrollments: Mapped[list[Enrollment]] = relationship(
        back_populates="trainee", cascade="all, delete-orphan", order_by="Enrollment.id"
    )

    def __repr__(self) -> str:
        return f"<Trainee {self.id}>"


class Enrollment(Base):
    """A trainee enrolled in one major, as 主项 or 增项, with the fee charged for it."""

    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("trainee_id", "major_id"),
        CheckConstraint("kind IN ('main', 'added')", name="kind_known"),
        CheckConstraint("fee >= 0", name="fee_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainees.id", ondelete="CASCADE"))
    major_id: Mapped[int] = mapped_column(ForeignKey("majors.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    registration_expires: Mapped[date | None] = mapped_column(index=True)
    fee: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    # When staff marked the fee paid (the staff console's fee summary); None: not paid yet.
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    trainee: Mapped[Trainee] = relationship(back_populates="enrollments")
    major: Mapped[Major] = relationship()
