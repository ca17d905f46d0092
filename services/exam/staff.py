"""Staff's exam actions, for the console and the CLI alike: void a pass (取消测试成绩) and release an
attempt to another session, each recorded in the audit log in its own transaction; and a trainee's
attempts for `exam show` and the trainee page."""
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
from services.identity import audit
from services.logfmt import kv
from services.notices import notices

log = logging.getLogger(__name__)

REASON_MAX = 200


def _attempt(tools: ExamTools, attempt_id: int, trainee_id: int | None) -> ExamAttempt:
    """The attempt; with `trainee_id` (the console's trainee page), only one of that trainee's."""
    attempt = tools.session.get(ExamAttempt, attempt_id)
    if attempt is None or trainee_id not in (None, attempt.trainee_id):
        raise ExamError(f"没有找到这次考试记录（编号 {attempt_id}）", 404)
    return attempt


def void(tools: ExamTools, attempt_id: int, actor: str, reason: str, now: datetime,
         trainee_id: int | None = None) -> tuple[ExamAttempt, Notice]:
    """Cancels a standing pass whose photos don't match the trainee: the completion is cancelled,
    the exam opens again, the trainee is told why through the outbox, and the audit log records
    it; one transaction."""
    actor, reason = actor.strip(), reason.strip()
    if not actor:
        raise ExamError("请写明操作人")
    if not reason:
        raise ExamError("请填写取消成绩的原因，学员会收到这条原因")
    session = tools.session
    with transaction(session):
        attempt = _attempt(tools, attempt_id, trainee_id)
        if not attempt.passed:
            raise ExamError(f"考试记录 {attempt_id} 不是合格的成绩，无需取消")
        if attempt.voided_at is not None:
            raise ExamError(f"考试记录 {attempt_id} 的成绩已于之前取消")
        attempt.voided_at, attempt.voided_by, attempt.void_reason = now, actor[:64], reason[:REASON_MAX]
        cancel_completion_of_attempt(session, attempt.id, reason=reason, at=now)
        notices.withdraw_exam_result(session, attempt.id, now)  # its 合格 must not reach the phone after this
        major = session.get_one(Major, attempt.major_id).name
        notice = notices.exam_voided(session, tools.templates(), trainee_id=attempt.trainee_id, attempt_id=attempt.id,
                                     major=major, reason=reason, requested_by=actor, exam_url=tools.exam_url, now=now)
        audit.record(session, actor, "exam_voided", f"attempt:{attempt.id}",
                     f"{_whose(attempt)}{major} {attempt.score} 分：{reason[:REASON_MAX]}")
    log.info(kv("exam_voided", attempt=attempt.id, trainee=attempt.trainee_id, by=actor))
    return attempt, notice


def release(tools: ExamTools, attempt_id: int, actor: str, trainee_id: int | None = None) -> ExamAttempt:
    """Frees an open attempt from the browser session that holds it (a phone lost or changed), recorded."""
    session = tools.session
    with transaction(session):
        attempt = _attempt(tools, attempt_id, trainee_id)
        if not attempt.is_open:
            raise ExamError(f"考试记录 {attempt_id} 已交卷，无需释放")
        attempt.session_hash = None
        audit.record(session, actor, "exam_released", f"attempt:{attempt.id}",
                     f"{_whose(attempt)}{attempt.major.name}：释放作答中的考试，可换设备继续")
    return attempt


def _whose(attempt: ExamAttempt) -> str:
    trainee = attempt.trainee
    return f"{trainee.name}（{trainee.id_card_mask}）"


def attempts_of(tools: ExamTools, trainee_id: int) -> list[ExamAttempt]:
    """Every attempt of the trainee, newest first (voided ones included)."""
    return list(tools.session.scalars(
        select(ExamAttempt).where(ExamAttempt.trainee_id == trainee_id).order_by(ExamAttempt.id.desc())))
