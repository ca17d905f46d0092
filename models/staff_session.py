"""Staff console sessions (CONTRACT §9): one row per login, so that the server can end a session.

The console's cookie carries a random token; the row keeps only its SHA-256 (a copy of the table
opens no session). A session ends at logout, when the account's password changes (its other
sessions) or when the account is disabled; an ended session's cookie, replayed, logs nobody in.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models import Base
from models.types import UTCDateTime, utcnow


class StaffSession(Base):
    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Last request seen (written at most every few minutes): the server's own idle limit.
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
