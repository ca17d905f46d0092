"""WeChat users of the account (followers by OpenID) and the trainee each is bound to.

`subscribed` is three-valued: True once the account has seen this OpenID follow (a `subscribe`,
any message or menu event, the follower list), False once it has seen it go (`unsubscribe`, a
send answered 43004, the follower list), None while it knows neither. Everyone who followed
before the service went live starts at None, and None is reached by template messages.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import Base
from models.trainee import Trainee
from models.types import UTCDateTime, utcnow


class WechatUser(Base):
    __tablename__ = "wechat_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    subscribed: Mapped[bool | None] = mapped_column(default=None)
    subscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # unique: one WeChat per trainee; rebinding goes through staff.
    trainee_id: Mapped[int | None] = mapped_column(
        ForeignKey("trainees.id", ondelete="SET NULL"), unique=True
    )
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    trainee: Mapped[Trainee | None] = relationship()

    def __repr__(self) -> str:
        return f"<WechatUser {self.openid[:6]}…>"
