"""The outbox rows behind the dashboard's notice figures, one page at a time."""
from __future__ import annotations

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from models import Notice, OutboxMessage, Trainee, TrainingClass
from models.notices import STATES


def outbox_page(session: Session, state: str, page: int,
                size: int) -> tuple[list[Row[OutboxMessage, str, str, str | None]], int]:
    """Messages in `state` (all when it is not one), newest first: (message, notice, trainee name, class code)."""
    where = [OutboxMessage.state == state] if state in STATES else []
    total = session.scalar(select(func.count()).select_from(OutboxMessage).where(*where)) or 0
    rows = session.execute(
        select(OutboxMessage, Notice.kind, Trainee.name, TrainingClass.code)
        .join(Notice, Notice.id == OutboxMessage.notice_id).join(Trainee, Trainee.id == OutboxMessage.trainee_id)
        .outerjoin(TrainingClass, TrainingClass.id == Notice.class_id)
        .where(*where).order_by(OutboxMessage.id.desc()).offset((page - 1) * size).limit(size)
    ).all()
    return list(rows), total
