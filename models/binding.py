"""The binding log: every 认证登录 attempt, bind and staff unbind, with personal data masked."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models import Base
from models.types import UTCDateTime, utcnow


class BindingLog(Base):
    __tablename__ = "binding_log"
    __table_args__ = (
        CheckConstraint("action IN ('bound', 'refused', 'unbound')", name="action_known"),
        Index("ix_binding_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(16))
    # Why a try was refused (unknown_phone, id_mismatch, bound_elsewhere, locked, …); else empty.
    reason: Mapped[str] = mapped_column(String(32), default="")
    openid: Mapped[str | None] = mapped_column(String(64), index=True)
    trainee_id: Mapped[int | None] = mapped_column(ForeignKey("trainees.id", ondelete="SET NULL"), index=True)
    ip: Mapped[str | None] = mapped_column(String(45))
    phone_mask: Mapped[str] = mapped_column(String(16), default="")
    id_card_mask: Mapped[str] = mapped_column(String(18), default="")
    # For staff actions: who did it and why.
    actor: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(200), default="")
