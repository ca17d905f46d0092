"""What a notice depends on (its premise), written with it and checked again when a row is claimed.

A notice may wait in the outbox (a retry, a slow provider, a dispatcher that was down) while the
world it describes changes: staff void the pass whose result it tells, move or delete the class it
announces, or the trainee it reminds finishes. Such a row is `withdrawn` when a dispatcher claims
it: never sent, never turned into an SMS, and shown to staff as 已撤回 with the reason.

- `class_open`, `class_reminder`: the class (by id, as the notice's `class_id` is emptied when the
  class is deleted), its start time and place as written;
- `exam_result`: the attempt, not voided since;
- `hours_complete`: the enrollment, its exam not passed since;
- `registration_expiry`: the trainee still owes an exam (checked per row, the notice is weekly).
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import Enrollment, Notice, OutboxMessage, Trainee, TrainingClass
from models.exam import ExamAttempt
from models.notices import (
    NOTICE_CLASS_OPEN,
    NOTICE_CLASS_REMINDER,
    NOTICE_EXAM_RESULT,
    NOTICE_HOURS_COMPLETE,
    NOTICE_REGISTRATION_EXPIRY,
    PENDING,
    SENDING,
    WITHDRAWN,
    WITHDRAWN_CLASS_MOVED,
)
from services.completion.owed import owes_an_exam
from services.db import affected, transaction
from services.notices.outbox import Claimed

Premise = dict[str, object]

CLASS_MOVED = WITHDRAWN_CLASS_MOVED
CLASS_DELETED = "已撤回：班级已删除，未发送"
RESULT_VOIDED = "已撤回：这次考试成绩已被取消，未发送"
EXAM_PASSED = "已撤回：学员已通过该专业考试，未发送"
TRAINEE_FINISHED = "已撤回：学员已完成继续教育，未发送"


def of_class(training_class: TrainingClass) -> Premise:
    return {"class_id": training_class.id, "starts_at": _instant(training_class.starts_at),
            "place": training_class.place}


def of_attempt(attempt_id: int) -> Premise:
    return {"attempt_id": attempt_id}


def of_enrollment(enrollment_id: int) -> Premise:
    return {"enrollment_id": enrollment_id}


def withdraw_stale(session: Session, token: str, claimed: list[Claimed], now: datetime) -> list[Claimed]:
    """The dispatcher's check at claim: rows whose premise changed become `withdrawn` (their claim
    given back, in one transaction); returns the rows still to send."""
    if not claimed:
        return claimed
    notice_ids = {row.notice_id for row in claimed}
    notices = {n.id: n for n in session.scalars(select(Notice).where(Notice.id.in_(notice_ids)))}
    finished = _finished(session, [row.trainee_id for row in claimed
                                   if notices[row.notice_id].kind == NOTICE_REGISTRATION_EXPIRY])
    reasons: dict[int, str | None] = {n.id: _changed(session, n) for n in notices.values()}
    stale: dict[int, str] = {}
    for row in claimed:
        why = reasons[row.notice_id] or (TRAINEE_FINISHED if row.trainee_id in finished and
                                         notices[row.notice_id].kind == NOTICE_REGISTRATION_EXPIRY else None)
        if why:
            stale[row.id] = why
    if stale:
        with transaction(session):
            for row_id, why in stale.items():
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row_id, OutboxMessage.claimed_by == token,
                           OutboxMessage.state == SENDING)
                    .values(state=WITHDRAWN, claimed_by=None, lease_until=None, last_error=why, updated_at=now,
                            attempts=OutboxMessage.attempts - 1)
                    .execution_options(synchronize_session=False))
    else:
        session.commit()  # end the read transaction the checks opened
    return [row for row in claimed if row.id not in stale]


def withdraw_pending(session: Session, notice_key: str, why: str, now: datetime) -> int:
    """Withdraws the rows of the notice not yet claimed, inside the caller's transaction (a void
    withdraws its result notice as it cancels the completion); returns how many."""
    rows = select(OutboxMessage.id).join(Notice, Notice.id == OutboxMessage.notice_id).where(
        Notice.key == notice_key, OutboxMessage.state == PENDING)
    return affected(session, update(OutboxMessage).where(OutboxMessage.id.in_(rows))
                    .values(state=WITHDRAWN, last_error=why, updated_at=now)
                    .execution_options(synchronize_session=False))


def revive(session: Session, notice: Notice, now: datetime) -> int:
    """A class notice written again with the class's current data: its rows withdrawn for the
    old time or place go out with the new one (inside the caller's transaction)."""
    return affected(session, update(OutboxMessage)
                    .where(OutboxMessage.notice_id == notice.id, OutboxMessage.state == WITHDRAWN)
                    .values(state=PENDING, next_try_at=now, last_error=None, updated_at=now)
                    .execution_options(synchronize_session=False))


def _changed(session: Session, notice: Notice) -> str | None:
    """Why the notice's premise no longer holds, or None."""
    premise = notice.premise or {}
    if notice.kind in (NOTICE_CLASS_OPEN, NOTICE_CLASS_REMINDER) and "class_id" in premise:
        training_class = session.get(TrainingClass, premise["class_id"], populate_existing=True)
        if training_class is None:
            return CLASS_DELETED
        if (_instant(training_class.starts_at), training_class.place) != (premise["starts_at"], premise["place"]):
            return CLASS_MOVED
    if notice.kind == NOTICE_EXAM_RESULT and "attempt_id" in premise:
        attempt = session.get(ExamAttempt, premise["attempt_id"], populate_existing=True)
        if attempt is None or attempt.voided_at is not None:
            return RESULT_VOIDED
    if notice.kind == NOTICE_HOURS_COMPLETE and "enrollment_id" in premise:
        passed = session.scalar(select(ExamAttempt.id).where(
            ExamAttempt.enrollment_id == premise["enrollment_id"], ExamAttempt.passed.is_(True),
            ExamAttempt.voided_at.is_(None)))
        if passed is not None or session.get(Enrollment, premise["enrollment_id"], populate_existing=True) is None:
            return EXAM_PASSED
    return None


def _finished(session: Session, trainee_ids: Sequence[int]) -> set[int]:
    """Of these trainees, those who owe no exam any more (every enrolled major passed)."""
    if not trainee_ids:
        return set()
    owing = set(session.scalars(select(Trainee.id).where(Trainee.id.in_(set(trainee_ids)), owes_an_exam(Trainee.id))))
    return set(trainee_ids) - owing


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
