"""A trainee's study records for staff: per lesson, the parts watched and confirmed, the seconds
credited, the attendance checks (issued, passed, expired, pending) with the scans refused, and
the exercise attempts. Read from the database: what a check has not confirmed yet is not a record.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from models import (
    AttendanceCheck,
    AttendanceRefusal,
    BindingLog,
    Course,
    ExerciseAttempt,
    Lesson,
    LessonProgress,
    Trainee,
    WechatUser,
)
from services.identity import binding
from services.study import attendance, learning
from services.study.learning import CourseLine
from services.study.segments import Segments
from services.timeutil import utcnow


@dataclass(frozen=True)
class LessonRecord:
    lesson_id: int
    course: str
    title: str
    duration_s: int
    hours: Decimal
    watched: Segments
    credited_seconds: float
    completed_at: datetime | None
    checks: Counter[str]  # issued, verified, expired, pending, refused
    attempts: int
    attempts_passed: int
    retired: bool = False  # staff retired the lesson; what was earned on it stays


def lesson_records(session: Session, trainee_id: int, now: datetime | None = None) -> list[LessonRecord]:
    """Every lesson the trainee has any record of, in catalog order."""
    now = now or utcnow()
    progress = {row.lesson_id: row for row in session.scalars(
        select(LessonProgress).where(LessonProgress.trainee_id == trainee_id))}
    checks = _checks(session, trainee_id, now)
    attempts = {row.lesson_id: (row.total, row.passed or 0) for row in session.execute(
        select(ExerciseAttempt.lesson_id, func.count().label("total"),
               func.sum(case((ExerciseAttempt.passed, 1), else_=0)).label("passed"))
        .where(ExerciseAttempt.trainee_id == trainee_id).group_by(ExerciseAttempt.lesson_id))}
    wanted = set(progress) | set(checks) | set(attempts)
    if not wanted:
        return []
    lessons = session.execute(
        select(Lesson.id, Lesson.title, Lesson.duration_s, Lesson.hours, Course.name, Lesson.retired_at)
        .join(Course, Course.id == Lesson.course_id).where(Lesson.id.in_(wanted))
        .order_by(Course.kind.desc(), Course.id, Lesson.position)
    ).all()
    records = []
    for lesson_id, title, duration_s, hours, course, retired_at in lessons:
        row = progress.get(lesson_id)
        total, passed = attempts.get(lesson_id, (0, 0))
        records.append(LessonRecord(
            lesson_id, course, title, duration_s, hours, json.loads(row.watched) if row else [],
            row.credited_seconds if row else 0.0, row.completed_at if row else None,
            checks.get(lesson_id, Counter[str]()), total, int(passed), retired_at is not None,
        ))
    return records


def _checks(session: Session, trainee_id: int, now: datetime) -> dict[int, Counter[str]]:
    counts: dict[int, Counter[str]] = {}
    rows = session.execute(
        select(AttendanceCheck.lesson_id, AttendanceCheck.status, AttendanceCheck.expires_at,
               func.count(AttendanceRefusal.id).label("refused"))
        .outerjoin(AttendanceRefusal, AttendanceRefusal.check_id == AttendanceCheck.id)
        .where(AttendanceCheck.trainee_id == trainee_id, AttendanceCheck.lesson_id.is_not(None))
        .group_by(AttendanceCheck.id)
    )
    for lesson_id, status, expires_at, refused in rows:
        if lesson_id is None:
            continue  # excluded by the query; the ORM types the column as nullable
        status = attendance.status_at(status, expires_at.timestamp(), now.timestamp())  # its player may never come back
        counter = counts.setdefault(lesson_id, Counter())
        counter["issued"] += 1
        counter[status] += 1
        counter["refused"] += refused
    return counts


@dataclass(frozen=True)
class TraineeReport:
    """Everything staff see of one trainee (`trainee show`): binding, hours, each lesson's record."""

    trainee: Trainee
    openid: str | None  # the WeChat bound now
    bindings: list[BindingLog]  # newest first
    courses: list[CourseLine]
    lessons: list[LessonRecord]


def trainee_report(session: Session, trainee: Trainee) -> TraineeReport:
    """The report of a trainee (found by `binding.find_trainee`, as staff name them)."""
    openid = session.scalar(select(WechatUser.openid).where(WechatUser.trainee_id == trainee.id))
    return TraineeReport(trainee, openid, binding.history(session, trainee.id), learning.courses(session, trainee.id),
                         lesson_records(session, trainee.id))
