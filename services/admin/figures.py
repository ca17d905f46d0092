"""The dashboard's figures, and the sets of trainees behind each one (the trainee list filters
by the same subqueries, so a number and the rows it links to always agree).

Everything is aggregated in the database, one statement per table of figures: with 20,000
trainees and 200,000 lesson-progress rows the dashboard stays one page load, not thousands.
- bound: the trainee has a WeChat bound;
- studying: the trainee has confirmed watching of any lesson;
- finished: the 公共课's hours and the major's 专业课 hours are complete.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from models import (
    AttendanceCheck, AttendanceRefusal, ClassMember, Course, Enrollment, Lesson, LessonProgress, Major, OutboxMessage,
    Trainee, TrainingClass, WechatUser,
)
from models.catalog import COURSE_PUBLIC
from services.timeutil import SHANGHAI


def bound():
    return select(WechatUser.trainee_id).where(WechatUser.trainee_id.is_not(None))


def studying():
    return select(LessonProgress.trainee_id).distinct()


def enrolled(major_id: int):
    return select(Enrollment.trainee_id).where(Enrollment.major_id == major_id)


def _done_courses():
    """(trainee, course) pairs whose completed lessons hold the course's required hours."""
    return (select(LessonProgress.trainee_id, Lesson.course_id, Course.major_id, Course.kind)
            .join(Lesson, Lesson.id == LessonProgress.lesson_id).join(Course, Course.id == Lesson.course_id)
            .where(LessonProgress.completed_at.is_not(None))
            .group_by(LessonProgress.trainee_id, Lesson.course_id, Course.major_id, Course.kind,
                      Course.hours_required)
            .having(func.sum(Lesson.hours) >= Course.hours_required))


def finished(major_id: int | None = None):
    """Trainees who finished the 公共课 and the 专业课 of `major_id` (of any major when None)."""
    done = _done_courses().subquery()
    public = select(done.c.trainee_id).where(done.c.kind == COURSE_PUBLIC)
    major = select(done.c.trainee_id).where(done.c.kind != COURSE_PUBLIC, done.c.trainee_id.in_(public))
    return major.where(done.c.major_id == major_id) if major_id is not None else major


@dataclass(frozen=True)
class GroupFigures:
    key: str  # class code or major id, for the links
    label: str
    enrolled: int
    bound: int
    studying: int
    finished: int


def _pairs():
    """(trainee, major) rows with bound / studying / finished flags, as one subquery."""
    done = _done_courses().subquery()
    public_done = select(done.c.trainee_id).where(done.c.kind == COURSE_PUBLIC).subquery()
    major_done = select(done.c.trainee_id, done.c.major_id).where(done.c.kind != COURSE_PUBLIC).subquery()
    b, s = bound().subquery(), studying().subquery()
    return (select(Enrollment.trainee_id, Enrollment.major_id, b.c.trainee_id.label("b"),
                   s.c.trainee_id.label("s"),
                   case((and_(public_done.c.trainee_id.is_not(None), major_done.c.trainee_id.is_not(None)), 1))
                   .label("f"))
            .outerjoin(b, b.c.trainee_id == Enrollment.trainee_id)
            .outerjoin(s, s.c.trainee_id == Enrollment.trainee_id)
            .outerjoin(public_done, public_done.c.trainee_id == Enrollment.trainee_id)
            .outerjoin(major_done, and_(major_done.c.trainee_id == Enrollment.trainee_id,
                                        major_done.c.major_id == Enrollment.major_id))
            .subquery())


def by_major(session: Session) -> list[GroupFigures]:
    p = _pairs()
    rows = session.execute(
        select(Major.id, Major.name, func.count(p.c.trainee_id), func.count(p.c.b), func.count(p.c.s),
               func.count(p.c.f))
        .outerjoin(p, p.c.major_id == Major.id).group_by(Major.id, Major.name, Major.position)
        .order_by(Major.position)
    ).all()
    return [GroupFigures(str(mid), name, *counts) for mid, name, *counts in rows]


def by_class(session: Session) -> list[GroupFigures]:
    p = _pairs()
    rows = session.execute(
        select(TrainingClass.code, TrainingClass.name, func.count(p.c.trainee_id), func.count(p.c.b),
               func.count(p.c.s), func.count(p.c.f))
        .outerjoin(ClassMember, ClassMember.class_id == TrainingClass.id)
        .outerjoin(p, and_(p.c.trainee_id == ClassMember.trainee_id, p.c.major_id == TrainingClass.major_id))
        .group_by(TrainingClass.id, TrainingClass.code, TrainingClass.name, TrainingClass.starts_at)
        .order_by(TrainingClass.starts_at.desc())
    ).all()
    return [GroupFigures(code, f"{code} {name}", *counts) for code, name, *counts in rows]


def day_bounds(now: datetime) -> tuple[datetime, datetime]:
    """Today in Beijing time, as UTC bounds."""
    start = datetime.combine(now.astimezone(SHANGHAI).date(), time(0), SHANGHAI).astimezone(timezone.utc)
    return start, start + timedelta(days=1)


def attendance_today(session: Session, now: datetime) -> dict[str, int]:
    """Today's checks: issued, passed, expired (a pending one past its time counts), refused scans."""
    start, end = day_bounds(now)
    expired = (AttendanceCheck.status == "expired") | (
        (AttendanceCheck.status == "pending") & (AttendanceCheck.expires_at < now))
    issued, passed, lapsed = session.execute(
        select(func.count(), func.count().filter(AttendanceCheck.status == "verified"), func.count().filter(expired))
        .where(AttendanceCheck.issued_at >= start, AttendanceCheck.issued_at < end)
    ).one()
    refused = session.scalar(select(func.count()).select_from(AttendanceRefusal)
                             .where(AttendanceRefusal.at >= start, AttendanceRefusal.at < end))
    return {"issued": issued, "verified": passed, "expired": lapsed, "refused": refused or 0}


def notices(session: Session) -> dict[str, int]:
    """Outbox rows by state, all notices."""
    return dict(session.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)).all())


def totals(session: Session) -> dict[str, int]:
    b, s = bound().subquery(), studying().subquery()
    total, bound_n, studying_n = session.execute(
        select(func.count(Trainee.id), func.count(b.c.trainee_id), func.count(s.c.trainee_id))
        .outerjoin(b, b.c.trainee_id == Trainee.id).outerjoin(s, s.c.trainee_id == Trainee.id)
    ).one()
    finished_n = session.scalar(select(func.count()).select_from(finished().distinct().subquery()))
    return {"enrolled": total, "bound": bound_n, "studying": studying_n, "finished": finished_n or 0}


@dataclass(frozen=True)
class CheckToday:
    trainee_id: int
    name: str
    lesson: str
    issued_at: datetime
    status: str
    refused: int


def attendance_rows(session: Session, now: datetime, status: str) -> list[CheckToday]:
    """Today's checks behind one figure: `verified`, `expired`, `refused` (checks with a refused
    scan today) or every one issued; newest first, at most 500."""
    start, end = day_bounds(now)
    refused = func.count(AttendanceRefusal.id)
    stmt = (select(Trainee.id, Trainee.name, Lesson.title, AttendanceCheck.issued_at, AttendanceCheck.status,
                   AttendanceCheck.expires_at, refused)
            .join(Trainee, Trainee.id == AttendanceCheck.trainee_id)
            .outerjoin(Lesson, Lesson.id == AttendanceCheck.lesson_id)
            .outerjoin(AttendanceRefusal, and_(AttendanceRefusal.check_id == AttendanceCheck.id,
                                               AttendanceRefusal.at >= start, AttendanceRefusal.at < end))
            .group_by(Trainee.id, Trainee.name, Lesson.title, AttendanceCheck.id)
            .order_by(AttendanceCheck.issued_at.desc()).limit(500))
    if status == "refused":
        stmt = stmt.having(refused > 0)
    else:
        stmt = stmt.where(AttendanceCheck.issued_at >= start, AttendanceCheck.issued_at < end)
    if status == "verified":
        stmt = stmt.where(AttendanceCheck.status == "verified")
    elif status == "expired":
        stmt = stmt.where((AttendanceCheck.status == "expired")
                          | ((AttendanceCheck.status == "pending") & (AttendanceCheck.expires_at < now)))
    return [CheckToday(tid, name, title or "（课时已删除）", issued,
                       "expired" if st == "pending" and expires < now else st, n)
            for tid, name, title, issued, st, expires, n in session.execute(stmt)]
