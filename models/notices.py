"""Notices (通知) and their outbox: one row per (notice, trainee, channel), each sent at most once.

A notice records what was asked (kind, class, who, when, how many trainees) and what it depends
on (its premise: the class's time and place, the attempt whose result it tells); its outbox rows
carry the delivery: state, attempts, next try, lease, last error and the provider's message id.
The unique constraint on (notice, trainee, channel) is what makes a second run send nothing. A row
whose premise no longer holds when a dispatcher claims it is `withdrawn`: never sent, never an SMS.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import Base
from models.classes import TrainingClass
from models.trainee import Trainee
from models.types import UTCDateTime, utcnow

NOTICE_CLASS_OPEN = "class_open"
NOTICE_CLASS_REMINDER = "class_reminder"
NOTICE_REGISTRATION_EXPIRY = "registration_expiry"
# The exam's notices: a result (合格 / 不合格) and a pass cancelled by staff (取消测试成绩).
NOTICE_EXAM_RESULT = "exam_result"
NOTICE_EXAM_VOIDED = "exam_voided"
# A major's 公共课 and 专业课 hours became complete: the exam is open (学时已修满，可以参加考试).
NOTICE_HOURS_COMPLETE = "hours_complete"
# 更换绑定的微信: the SMS code to the roster phone, and the word to the WeChat the account left.
NOTICE_MOVE_CODE = "move_code"
NOTICE_BINDING_MOVED = "binding_moved"
NOTICE_KINDS = (
    NOTICE_CLASS_OPEN, NOTICE_CLASS_REMINDER, NOTICE_REGISTRATION_EXPIRY, NOTICE_EXAM_RESULT, NOTICE_EXAM_VOIDED,
    NOTICE_HOURS_COMPLETE, NOTICE_MOVE_CODE, NOTICE_BINDING_MOVED,
)

CHANNEL_WECHAT = "wechat"
CHANNEL_SMS = "sms"
CHANNELS = (CHANNEL_WECHAT, CHANNEL_SMS)

PENDING, SENDING, SENT, FAILED, UNKNOWN = "pending", "sending", "sent", "failed", "unknown"
WITHDRAWN = "withdrawn"  # its premise changed before it was sent (已撤回)
# Why: the class was moved. Written by the class edit (services/school/classes.py) and by the
# dispatcher's check at claim (services/notices/premise.py), which sit on different floors.
WITHDRAWN_CLASS_MOVED = "已撤回：班级的开班时间或地点已变更，未发送"
STATES = (PENDING, SENDING, SENT, FAILED, UNKNOWN, WITHDRAWN)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Notice(Base):
    """One push asked for once: `key` names it (e.g. `class_open:7`) so asking again finds it."""

    __tablename__ = "notices"
    __table_args__ = (CheckConstraint(_in("kind", NOTICE_KINDS), name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id", ondelete="SET NULL"), index=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    # Values shared by every message of the notice (class name, start time, place, link).
    params: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    recipients: Mapped[int] = mapped_column(default=0)
    # What must still hold when a row is sent (services.notices.premise); None: nothing.
    premise: Mapped[dict[str, object] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    training_class: Mapped[TrainingClass | None] = relationship()

    def __repr__(self) -> str:
        return f"<Notice {self.key}>"


class OutboxMessage(Base):
    """One message to one trainee by one channel, and where its delivery stands."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("notice_id", "trainee_id", "channel"),
        CheckConstraint(_in("channel", CHANNELS), name="channel_known"),
        CheckConstraint(_in("state", STATES), name="state_known"),
        Index("ix_outbox_due", "state", "next_try_at"),
        Index("ix_outbox_provider_message_id", "provider_message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainees.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_try_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set while a dispatcher holds the row (`sending`); past `lease_until` the row goes back to
    # `pending` if it was never tried, else becomes `unknown` (see `tried_at`).
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Written just before the current claim's request leaves (cleared by each claim): a row still
    # `sending` without it was never tried, and a dispatcher that died can't have sent it.
    tried_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(300))
    provider_message_id: Mapped[str | None] = mapped_column(String(64))
    # Values for this trainee only (e.g. the registration expiry date).
    params: Mapped[dict[str, str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When a send of this row first may have reached the provider: WeChat dedups a template
    # message's resend by client_msg_id only within 10 minutes of it.
    first_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # WeChat's TEMPLATESENDJOBFINISH said `success` for the msgid in provider_message_id.
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    notice: Mapped[Notice] = relationship()
    trainee: Mapped[Trainee] = relationship()

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.channel} {self.state}>"
