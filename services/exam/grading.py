"""Grading: closing an attempt once, scoring it, and on a pass writing the completion and the
result notice in the same transaction.

An attempt is closed by a conditional UPDATE (`… WHERE submitted_at IS NULL`): of two closers
at once (the trainee's 交卷 and the deadline job), one wins and the other sees 0 rows, so an
attempt is graded, and a completion written, exactly once.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import Major
from models.exam import ExamAnswer, ExamAttempt, PaperItem
from services.completion.records import record_completion
from services.db import affected
from services.exam import ExamError
from services.exam import paper as papers
from services.exam.faces.gate import FaceGate
from services.exam.rules import Rules
from services.logfmt import kv
from services.notices import notices
from services.notices.notice_templates import KindTemplates
from services.storage import Storage

log = logging.getLogger(__name__)

ALREADY_SUBMITTED = "这次考试已经交卷，不能再修改。"
SETTLE_BATCH = 200


@dataclass
class ExamTools:
    """What the exam's services work with, built once per app from its settings and clients."""

    session: Session
    storage: Storage
    rules: Rules
    templates: Callable[[], dict[str, KindTemplates]]
    exam_url: str  # the exam page, for the result notice
    faces: FaceGate | None = None  # consent and the one-face rule, where face comparison is enabled


@dataclass(frozen=True)
class Result:
    score: int
    passed: bool
    correct: int
    total: int


def score(rules: Rules, paper: list[PaperItem], questions: dict[int, papers.Question],
          answers: dict[int, str]) -> Result:
    """Points per type from the rules; the paper totals 100 when it was drawn in full."""
    points = correct = 0
    for item in paper:
        question = questions[item["q"]]
        if papers.is_correct(item, question, answers.get(question.id)):
            correct += 1
            points += rules.points[question.kind]
    points = min(points, 100)
    return Result(points, points >= rules.pass_score, correct, len(paper))


def close(tools: ExamTools, attempt: ExamAttempt, now: datetime, by: str) -> Result:
    """Grades the open attempt inside the caller's transaction; ExamError(409) if it is closed already."""
    session = tools.session
    claimed = affected(session,
        update(ExamAttempt).where(ExamAttempt.id == attempt.id, ExamAttempt.submitted_at.is_(None))
        .values(submitted_at=now, submitted_by=by).execution_options(synchronize_session=False)
    )
    if claimed != 1:
        raise ExamError(ALREADY_SUBMITTED, 409)
    session.refresh(attempt)
    questions = papers.questions_of(session, attempt.paper)
    answers = dict(session.execute(
        select(ExamAnswer.question_id, ExamAnswer.keys).where(ExamAnswer.attempt_id == attempt.id)).all())
    result = score(tools.rules, attempt.paper, questions, answers)
    attempt.score, attempt.passed = result.score, result.passed
    attempt.correct, attempt.total = result.correct, result.total
    session.flush()
    if result.passed:
        _after_pass(tools, attempt, result.score, now)
    log.info(kv("exam_graded", attempt=attempt.id, trainee=attempt.trainee_id, score=result.score,
                passed=result.passed, by=by))
    return result


def _after_pass(tools: ExamTools, attempt: ExamAttempt, points: int, now: datetime) -> None:
    record_completion(tools.session, trainee_id=attempt.trainee_id, major_id=attempt.major_id,
                      score=points, completed_at=now, attempt_id=attempt.id)
    major = tools.session.get_one(Major, attempt.major_id)
    notices.exam_result(tools.session, tools.templates(), trainee_id=attempt.trainee_id, attempt_id=attempt.id,
                        major=major.name, score=points, passed=True, exam_url=tools.exam_url, now=now)


def settle_due(tools: ExamTools, now: datetime, trainee_id: int | None = None) -> int:
    """Grades, as they stand, the open attempts past their deadline (one transaction each)."""
    session = tools.session
    query = select(ExamAttempt).where(ExamAttempt.submitted_at.is_(None), ExamAttempt.deadline <= now)
    if trainee_id is not None:
        query = query.where(ExamAttempt.trainee_id == trainee_id)
    graded = 0
    for attempt in session.scalars(query.order_by(ExamAttempt.id).limit(SETTLE_BATCH)).all():
        try:
            close(tools, attempt, now, "deadline")
            session.commit()
            graded += 1
        except ExamError:
            session.rollback()  # another process closed it first
        except BaseException:
            session.rollback()
            raise
    return graded
