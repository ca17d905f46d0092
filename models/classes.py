"""Classes (班级): a major's cohort with a start time and a place, and its members."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import Base
from models.catalog import Major
from models.trainee import Trainee
from models.types import UTCDateTime, utcnow


class TrainingClass(Base):
    __tablename__ = "classes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    major_id: Mapped[int] = mapped_column(ForeignKey("majors.id"))
    name: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    place: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    major: Mapped[Major] = relationship()
    members: Mapped[list[ClassMember]] = relationship(
        back_populates="training_class", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<TrainingClass {self.code}>"


class ClassMember(Base):
    __tablename__ = "class_members"
    __table_args__ = (UniqueConstraint("class_id", "trainee_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"))
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainees.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    training_class: Mapped[TrainingClass] = relationship(back_populates="members")
    trainee: Mapped[Trainee] = relationship()
