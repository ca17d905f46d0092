"""Messages of unknown fate (`unknown`): their request may have reached the provider, so nothing
sends them again by itself.

- `settle_texts` (a scheduler job) asks the SMS provider, where it can look a send up, whether it
  accepted each unknown text (found by the row's reference): found, the row is `sent` (or `failed`
  when the provider reports it could not reach the phone); not found, it stays for staff.
- `resend` is staff's 重发: the row is sent again, recorded in the audit log with who asked.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import Notice, OutboxMessage, Trainee, TrainingClass
from models.notices import CHANNEL_SMS, FAILED, PENDING, SENT, UNKNOWN
from services.db import affected, transaction
from services.identity import audit
from services.identity.pii import mask_phone
from services.logfmt import kv
from services.notices import outbox
from services.notices.notices import NoticeError
from services.notices.sms import SmsBackend, SmsError, SmsLookup
from services.timeutil import local_text

log = logging.getLogger(__name__)

# Tencent keeps delivery reports 7 days; older unknown texts are left to staff.
LOOKBACK = timedelta(days=7)
SETTLE_BATCH = 100
CHANNEL_LABELS = {"wechat": "微信模板消息", "sms": "短信"}


@dataclass(frozen=True)
class Resend:
    """What `resend` queued: the row, its notice, and the class the notice belongs to (if any)."""

    outbox_id: int
    notice_id: int
    channel: str
    trainee_name: str
    class_code: str | None


def resend(session: Session, outbox_id: int, actor: str, now: datetime) -> Resend:
    """Staff's 重发 of a message of unknown fate: due again at once, as a new send, with an audit
    row naming who asked, in one transaction. NoticeError when the row is not `unknown`."""
    with transaction(session):
        found = session.execute(
            select(OutboxMessage.notice_id, OutboxMessage.channel, OutboxMessage.state, Trainee.name,
                   Trainee.phone, TrainingClass.code)
            .join(Trainee, Trainee.id == OutboxMessage.trainee_id)
            .join(Notice, Notice.id == OutboxMessage.notice_id)
            .outerjoin(TrainingClass, TrainingClass.id == Notice.class_id)
            .where(OutboxMessage.id == outbox_id)
        ).one_or_none()
        if found is None:
            raise NoticeError("没有这条通知记录。")
        notice_id, channel, _, name, phone, code = found
        requeued = affected(session, update(OutboxMessage)
                            .where(OutboxMessage.id == outbox_id, OutboxMessage.state == UNKNOWN)
                            .values(state=PENDING, attempts=0, next_try_at=now, first_sent_at=None, tried_at=None,
                                    claimed_by=None, lease_until=None, updated_at=now,
                                    last_error=f"{actor[:32]} 于 {local_text(now)} 确认重发")
                            .execution_options(synchronize_session=False))
        if not requeued:  # already resent, or settled by the provider's answer meanwhile
            raise NoticeError("只有状态未知的通知可以重发：这条通知的状态已不是“状态未知”。")
        audit.record(session, actor, "notice_resent", f"outbox:{outbox_id}",
                     f"{name}（{mask_phone(phone)}）{CHANNEL_LABELS.get(channel, channel)}，状态未知后重发")
    log.info(kv("outbox_resend", id=outbox_id, channel=channel, by=actor))
    return Resend(outbox_id, notice_id, channel, name, code)


def state_of(session: Session, outbox_id: int) -> str | None:
    state = session.scalar(select(OutboxMessage.state).where(OutboxMessage.id == outbox_id))
    session.commit()
    return state


def settle_texts(session: Session, sms: SmsBackend, now: datetime, limit: int = SETTLE_BATCH) -> dict[str, int]:
    """Asks the provider about unknown texts of the last LOOKBACK; counts `sent`, `failed` and
    `unsettled` (not found, or the provider could not be asked). Nothing when it can't look up."""
    if not isinstance(sms, SmsLookup):
        return {}
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.first_sent_at, OutboxMessage.updated_at, Trainee.phone)
        .join(Trainee, Trainee.id == OutboxMessage.trainee_id)
        .where(OutboxMessage.channel == CHANNEL_SMS, OutboxMessage.state == UNKNOWN,
               OutboxMessage.updated_at >= now - LOOKBACK)
        .order_by(OutboxMessage.id).limit(limit)
    ).all()
    session.commit()  # end the read: the provider's answers may take a while
    counts = {SENT: 0, FAILED: 0, "unsettled": 0}
    for row_id, first_sent_at, updated_at, phone in rows:
        since = (first_sent_at or updated_at) - timedelta(minutes=5)
        try:
            found = sms.find(phone, outbox.client_msg_id(row_id), since)
        except SmsError as exc:
            log.warning(kv("sms_lookup_failed", id=row_id, code=exc.code))
            found = None
        if found is None:
            counts["unsettled"] += 1
            continue
        state = FAILED if found.failed else SENT
        values: dict[str, object] = {"state": state, "updated_at": now, "provider_message_id": found.message_id[:64]}
        if state == SENT:
            values.update(sent_at=now, last_error=None)
        else:
            values["last_error"] = "短信服务商查询结果：未能送达手机"
        with transaction(session):
            changed = affected(session, update(OutboxMessage)
                               .where(OutboxMessage.id == row_id, OutboxMessage.state == UNKNOWN).values(**values)
                               .execution_options(synchronize_session=False))
        if changed:
            counts[state] += 1
            log.info(kv("sms_unknown_settled", id=row_id, state=state))
    return counts
