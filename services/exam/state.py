"""Where each of a trainee's exams stands: locked (and what is missing), open, in progress, passed.

A trainee's exam of a major is their enrollment in it (the exam id is the enrollment id). It
opens when the 公共课's hours and that major's 专业课 hours are complete (the earned hours of
`services.study.learning`); a standing pass (not voided) closes it for good. After staff voided a
pass, and until the trainee hands in another paper, the exam says so: when, and the reason given.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, bindparam, case, func, select
from sqlalchemy.orm import Session

from models import Enrollment, Major
from models.exam import ExamAttempt
from services.study import learning
from services.study.learning import CourseLine, ExamState, MajorExam, hours_text
from services.timeutil import SHANGHAI

LOCKED, OPEN, IN_PROGRESS, PASSED = "locked", "open", "in_progress", "passed"
NOT_VOIDED: tuple[datetime | None, str | None] = (None, None)


@dataclass(frozen=True)
class ExamLine:
    id: int  # the enrollment's id
    major: str
    major_id: int
    major_code: str
    state: str
    best_score: int | None
    attempts: int
    missing: list[str]
    open_attempt_id: int | None
    voided_at: datetime | None = None  # the last pass staff voided, when nothing was handed in since
    void_reason: str | None = None

    @property
    def voided(self) -> str | None:
        return learning.voided_text(date_text(self.voided_at) if self.voided_at else None, self.void_reason)


def missing_hours(lines: list[CourseLine], major: str) -> list[str]:
    """`还差 公共课 4 学时`, `还差 建筑工程专业课 12.5 学时`: what the trainee still owes for this exam."""
    owed = []
    for line in lines:
        if line.kind == "public" or line.major == major:
            if not line.complete:
                label = "公共课" if line.kind == "public" else f"{line.major}专业课"
                owed.append(f"还差 {label} {hours_text(line.hours_required - line.hours_earned)} 学时")
    return owed


# Built once (the portal, the exam page and the chat's MY_EXAM ask on every visit): per enrollment,
# its major and its attempts' figures; and the voided passes.
_TRAINEE = bindparam("trainee_id", type_=Integer)
_STANDING = ExamAttempt.voided_at.is_(None)
_STATS = (
    select(
        ExamAttempt.enrollment_id.label("enrollment_id"),
        func.count(ExamAttempt.id).label("attempts"),
        func.max(case((_STANDING, ExamAttempt.score))).label("best"),
        func.max(case((_STANDING & ExamAttempt.passed.is_(True), 1), else_=0)).label("passed"),
        func.max(case((ExamAttempt.submitted_at.is_(None), ExamAttempt.id))).label("open_id"),
        func.max(case((_STANDING, ExamAttempt.submitted_at))).label("last_standing"),
    )
    .where(ExamAttempt.trainee_id == _TRAINEE)
    .group_by(ExamAttempt.enrollment_id)
    .subquery()
)
_EXAM_LINES = (
    select(Enrollment.id, Major.id, Major.name, Major.code, _STATS.c.attempts, _STATS.c.best, _STATS.c.passed,
           _STATS.c.open_id, _STATS.c.last_standing)
    .join(Major, Major.id == Enrollment.major_id)
    .outerjoin(_STATS, _STATS.c.enrollment_id == Enrollment.id)
    .where(Enrollment.trainee_id == _TRAINEE)
    .order_by(Major.position)
)
_VOIDS = (
    select(ExamAttempt.enrollment_id, ExamAttempt.voided_at, ExamAttempt.void_reason)
    .where(ExamAttempt.trainee_id == _TRAINEE, ExamAttempt.voided_at.is_not(None))
    .order_by(ExamAttempt.voided_at)
)


def exams_for(session: Session, trainee_id: int, lines: list[CourseLine] | None = None) -> list[ExamLine]:
    """One line per enrolled major, in the majors' order (call `grading.settle_due` first to close late attempts)."""
    lines = learning.courses(session, trainee_id) if lines is None else lines
    rows = session.execute(_EXAM_LINES, {"trainee_id": trainee_id}).all()
    voids = _last_voids(session, trainee_id)
    result = []
    for enrollment_id, major_id, name, code, attempts, best, passed, open_id, last_standing in rows:
        missing = missing_hours(lines, name)
        state = PASSED if passed else IN_PROGRESS if open_id else LOCKED if missing else OPEN
        voided_at, reason = voids.get(enrollment_id, NOT_VOIDED)
        if state == PASSED or (voided_at and last_standing and last_standing > voided_at):
            voided_at, reason = None, None  # passed again, or a paper handed in since says more
        result.append(ExamLine(enrollment_id, name, major_id, code, state, best, attempts or 0,
                               [] if state == PASSED else missing, open_id, voided_at, reason))
    return result


def _last_voids(session: Session, trainee_id: int) -> dict[int, tuple[datetime | None, str | None]]:
    """Per enrollment, the last voided pass: when, and the reason staff gave."""
    found: dict[int, tuple[datetime | None, str | None]] = {}
    for enrollment_id, voided_at, reason in session.execute(_VOIDS, {"trainee_id": trainee_id}):
        found[enrollment_id] = (voided_at, reason)
    return found


def exam_state(session: Session, trainee_id: int, lines: list[CourseLine]) -> ExamState:
    """The summary the chat and the portal show (`MY_EXAM`, 我的课程), per major."""
    exams = exams_for(session, trainee_id, lines)
    majors = tuple(MajorExam(e.major, e.state, e.best_score, tuple(e.missing),
                             date_text(e.voided_at) if e.voided_at else None, e.void_reason) for e in exams)
    scores = [e.best_score for e in exams if e.best_score is not None]
    return ExamState(
        open=any(e.state in (OPEN, IN_PROGRESS) for e in exams),
        passed=bool(exams) and all(e.state == PASSED for e in exams),
        best_score=max(scores) if scores else None,
        majors=majors,
    )


def date_text(moment: datetime) -> str:
    """`2026年12月7日`, in Beijing time."""
    day = moment.astimezone(SHANGHAI).date()
    return f"{day.year}年{day.month}月{day.day}日"

