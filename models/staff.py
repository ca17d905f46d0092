"""Staff accounts (教务人员): who may use the staff console. Passwords are stored as hashes only."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from models import Base
from models.types import UTCDateTime, utcnow

ROLE_ADMIN, ROLE_STAFF = "admin", "staff"
ROLES = (ROLE_ADMIN, ROLE_STAFF)


class StaffUser(Base):
    __tablename__ = "staff_users"
    __table_args__ = (
        CheckConstraint("username = lower(username)", name="username_lower"),
        CheckConstraint("role IN ('admin', 'staff')", name="role_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # admin: also reads the audit log and may reveal a full ID card number; staff: everything else.
    role: Mapped[str] = mapped_column(String(8), default=ROLE_STAFF, server_default=ROLE_STAFF)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")
