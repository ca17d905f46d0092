"""Staff's exam commands: void a pass (取消测试成绩), release an attempt to another session,
and a trainee's attempts for `exam show`."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from models import Major, Notice
from models.exam import ExamAttempt
from services.completion.records import cancel_completion_of_attempt
from services.db import transaction
from services.exam import ExamError
from services.exam.grading import ExamTools
from services.logfmt import kv
from services.notices import notices

log = logging.getLogger(__name__)

REASON_MAX = 200


def _attempt(tools: ExamTools, attempt_id: int) -> ExamAttempt:
    attempt = tools.session.get(ExamAttempt, attempt_id)
    if attempt is None:
        raise ExamError(f"没有编号为 {attempt_id} 的考试记录", 404)
    return attempt


def void(tools: ExamTools, attempt_id: int, by: str, reason: str, now: datetime) -> tuple[ExamAttempt, Notice]:
    """Cancels a standing pass whose photos don't match the trainee: the completion is cancelled,
    the exam opens again, and the trainee is told why through the outbox; one transaction."""
    by, reason = by.strip(), reason.strip()
    if not by or not reason:
        raise ExamError("请写明操作人（--by）和取消原因（--reason）")
    session = tools.session
    with transaction(session):
        attempt = _attempt(tools, attempt_id)
        if not attempt.passed:
            raise ExamError(f"考试记录 {attempt_id} 不是合格的成绩，无需取消")
        if attempt.voided_at is not None:
            raise ExamError(f"考试记录 {attempt_id} 的成绩已于之前取消")
        attempt.voided_at, attempt.voided_by, attempt.void_reason = now, by[:64], reason[:REASON_MAX]
        cancel_completion_of_attempt(session, attempt.id, reason=reason, at=now)
        notices.withdraw_exam_result(session, attempt.id, now)  # its 合格 must not reach the phone after this
        notice = notices.exam_voided(session, tools.templates(), trainee_id=attempt.trainee_id, attempt_id=attempt.id,
                            major=session.get_one(Major, attempt.major_id).name, reason=reason,
                            requested_by=by, exam_url=tools.exam_url, now=now)
    log.info(kv("exam_voided", attempt=attempt.id, trainee=attempt.trainee_id, by=by))
    return attempt, notice


def release(tools: ExamTools, attempt_id: int) -> ExamAttempt:
    """Frees an open attempt from the browser session that holds it (a phone lost or changed)."""
    session = tools.session
    with transaction(session):
        attempt = _attempt(tools, attempt_id)
        if not attempt.is_open:
            raise ExamError(f"考试记录 {attempt_id} 已交卷，无需释放")
        attempt.session_hash = None
    return attempt


def attempts_of(tools: ExamTools, trainee_id: int) -> list[ExamAttempt]:
    """Every attempt of the trainee, newest first (voided ones included)."""
    return list(tools.session.scalars(
        select(ExamAttempt).where(ExamAttempt.trainee_id == trainee_id).order_by(ExamAttempt.id.desc())))
