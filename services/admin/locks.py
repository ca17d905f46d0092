"""The 认证登录 locks staff see on a trainee's page: each WeChat locked while trying to bind this
trainee (a try is known to be for them when its phone or ID card named them), with what it last
typed (masked) and how long the lock has left. Read-only: `binding.unlock_trainee` lifts them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import redis as redis_lib
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import BindingLog
from services import keys
from services.identity.pii import short_openid


@dataclass(frozen=True)
class LockedWechat:
    tag: str  # a short, non-reversible tag of the OpenID (the same in log lines)
    last_try_at: datetime
    refused: int  # refused tries known to be for this trainee
    phone_mask: str  # what the last try typed, masked
    id_card_mask: str
    minutes_left: int  # 0: no end set (lifted by staff only)


def locked_wechats(session: Session, redis: redis_lib.Redis, trainee_id: int) -> list[LockedWechat]:
    """The WeChats whose tries named this trainee and that are locked now, latest try first."""
    last = (select(BindingLog.openid, func.max(BindingLog.id).label("last_id"),
                   func.count().filter(BindingLog.action == "refused").label("refused"))
            .where(BindingLog.trainee_id == trainee_id, BindingLog.openid.is_not(None))
            .group_by(BindingLog.openid).subquery())
    rows = session.execute(
        select(BindingLog, last.c.refused).join(last, last.c.last_id == BindingLog.id)
        .order_by(BindingLog.id.desc())).all()
    if not rows:
        return []
    pipe = redis.pipeline(transaction=False)
    for log, _ in rows:
        pipe.ttl(keys.bind_lock("openid", log.openid))
    ttls = pipe.execute()
    return [LockedWechat(short_openid(log.openid), log.at, int(refused), log.phone_mask, log.id_card_mask,
                         max(1, -(-int(ttl) // 60)) if int(ttl) > 0 else 0)
            for (log, refused), ttl in zip(rows, ttls, strict=True) if int(ttl) != -2]  # -2: no lock
