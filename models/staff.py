"""Staff accounts (教务人员): who may use the staff console. Passwords are stored as hashes only."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from models import Base
from models.types import UTCDateTime, utcnow


class StaffUser(Base):
    __tablename__ = "staff_users"
    __table_args__ = (CheckConstraint("username = lower(username)", name="username_lower"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")
