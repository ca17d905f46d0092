"""The dashboard's study figures, and the sets of trainees behind each one (the trainee list
filters by the same definitions, so a number and the rows it links to agree).

- bound: the trainee has a WeChat bound;
- studying: the trainee has confirmed watching of any lesson;
- finished: the 公共课's hours and the major's 专业课 hours are complete;
- passed: the trainee passed the major's exam and the pass stands (a valid completion).

Everything comes from ONE aggregate statement grouped by (major, class): per major, per class and
the totals are sums of its few hundred rows. Hours are read from the hours summary
(`services.study.hours`, one row per trainee and course), not added up from lesson progress, so a
recount stays well under the page's budget; the figures are still kept in Redis for `CACHE_S` (the
page says when they were counted, and staff may recount at once).

Beside them, the outbox's watch (`outbox_watch`): how many notices wait and for how long, and
whether the scheduler still dispatches them.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import redis as redis_lib
from sqlalchemy import ColumnElement, Row, Select, and_, case, func, select
from sqlalchemy.orm import Session

from models import ClassMember, Completion, Course, Enrollment, Major, OutboxMessage, TrainingClass, WechatUser
from models.catalog import COURSE_PUBLIC
from models.notices import PENDING, SENDING
from services import keys
from services.notices import last_dispatch
from services.redis_tools import text as redis_text
from services.study import hours

CACHE_S = 60
FIGURES = ("enrolled", "bound", "studying", "finished", "passed")


def bound() -> Select[int | None]:
    return select(WechatUser.trainee_id).where(WechatUser.trainee_id.is_not(None))


def studying() -> Select[int]:
    return hours.studying()


def enrolled(major_id: int) -> Select[int]:
    return select(Enrollment.trainee_id).where(Enrollment.major_id == major_id)


def finished(major_id: int | None = None) -> Select[int]:
    """Trainees who finished the 公共课 and the 专业课 of `major_id` (of any major when None)."""
    done = hours.done_courses().subquery()
    public = select(done.c.trainee_id).where(done.c.kind == COURSE_PUBLIC)
    major = select(done.c.trainee_id).where(done.c.kind != COURSE_PUBLIC, done.c.trainee_id.in_(public))
    return major.where(done.c.major_id == major_id) if major_id is not None else major


def passed(major_id: int | None = None) -> Select[int]:
    """Trainees whose exam of `major_id` (of any major when None) is passed and not voided."""
    stmt = select(Completion.trainee_id).where(Completion.state == "valid")
    return stmt.where(Completion.major_id == major_id) if major_id is not None else stmt


@dataclass
class GroupFigures:
    key: str  # class code or major id, for the links
    label: str
    enrolled: int = 0
    bound: int = 0
    studying: int = 0
    finished: int = 0
    passed: int = 0

    def add(self, counts: Sequence[int]) -> None:
        for name, n in zip(FIGURES, counts, strict=True):
            setattr(self, name, getattr(self, name) + n)


@dataclass
class StudyFigures:
    counted_at: str  # ISO 8601
    totals: GroupFigures
    majors: list[GroupFigures] = field(default_factory=list)
    classes: list[GroupFigures] = field(default_factory=list)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count(case((condition, 1)))


def _grouped(session: Session) -> Sequence[Row[*tuple[Any, ...]]]:
    """Per (major, class code or None): pair counts and, on each trainee's first enrollment, trainee counts.

    One pass over the enrollments, each joined once to what is known of its trainee (bound, the hours
    summary rolled up per trainee, an exam passed) and of the pair (class, the major's hours, its exam)."""
    per = hours.per_trainee().subquery()
    major_done = hours.done_courses().where(Course.kind != COURSE_PUBLIC).subquery()
    major_passed = (select(Completion.trainee_id, Completion.major_id).where(Completion.state == "valid")
                    .distinct().subquery())
    any_passed = passed().distinct().subquery()
    member = (select(ClassMember.trainee_id, TrainingClass.major_id, TrainingClass.code)
              .join(TrainingClass, TrainingClass.id == ClassMember.class_id).subquery())
    b = bound().subquery()
    public_done = per.c.public_done == 1
    pairs = (select(Enrollment.major_id, member.c.code,
                    (func.row_number().over(partition_by=Enrollment.trainee_id, order_by=Enrollment.id) == 1)
                    .label("is_first"),
                    b.c.trainee_id.is_not(None).label("bound"), per.c.trainee_id.is_not(None).label("studying"),
                    (public_done & major_done.c.trainee_id.is_not(None)).label("finished"),
                    major_passed.c.trainee_id.is_not(None).label("passed"),
                    (public_done & (per.c.major_done == 1)).label("finished_any"),
                    any_passed.c.trainee_id.is_not(None).label("passed_any"))
             .outerjoin(member, and_(member.c.trainee_id == Enrollment.trainee_id,
                                     member.c.major_id == Enrollment.major_id))
             .outerjoin(b, b.c.trainee_id == Enrollment.trainee_id)
             .outerjoin(per, per.c.trainee_id == Enrollment.trainee_id)
             .outerjoin(major_done, and_(major_done.c.trainee_id == Enrollment.trainee_id,
                                         major_done.c.major_id == Enrollment.major_id))
             .outerjoin(major_passed, and_(major_passed.c.trainee_id == Enrollment.trainee_id,
                                           major_passed.c.major_id == Enrollment.major_id))
             .outerjoin(any_passed, any_passed.c.trainee_id == Enrollment.trainee_id)).subquery()
    first = pairs.c.is_first
    stmt = (select(pairs.c.major_id, pairs.c.code, func.count(), _count(pairs.c.bound), _count(pairs.c.studying),
                   _count(pairs.c.finished), _count(pairs.c.passed), _count(first), _count(first & pairs.c.bound),
                   _count(first & pairs.c.studying), _count(first & pairs.c.finished_any),
                   _count(first & pairs.c.passed_any))
            .group_by(pairs.c.major_id, pairs.c.code))
    return session.execute(stmt).all()


def count_study(session: Session, now: datetime) -> StudyFigures:
    majors = {mid: GroupFigures(str(mid), name) for mid, name in
              session.execute(select(Major.id, Major.name).order_by(Major.position))}
    classes = {code: GroupFigures(code, f"{code} {name}") for code, name in
               session.execute(select(TrainingClass.code, TrainingClass.name).order_by(TrainingClass.starts_at.desc()))}
    totals = GroupFigures("", "全部")
    for major_id, code, *counts in _grouped(session):
        pairs, people = counts[:len(FIGURES)], counts[len(FIGURES):]
        majors[major_id].add(pairs)
        if code is not None:
            classes[code].add(pairs)
        totals.add(people)
    return StudyFigures(now.isoformat(), totals, list(majors.values()), list(classes.values()))


def cached_study(session: Session, redis: redis_lib.Redis, now: datetime, fresh: bool = False) -> StudyFigures:
    """The study figures counted at most CACHE_S ago (now, when `fresh`)."""
    raw = None if fresh else redis_text(redis.get(keys.admin_study_figures()))
    if raw is not None:
        data = json.loads(raw)
        return StudyFigures(data["counted_at"], GroupFigures(**data["totals"]),
                            [GroupFigures(**g) for g in data["majors"]], [GroupFigures(**g) for g in data["classes"]])
    figures = count_study(session, now)
    redis.set(keys.admin_study_figures(), json.dumps(asdict(figures), ensure_ascii=False), ex=CACHE_S)
    return figures


@dataclass(frozen=True)
class OutboxWatch:
    waiting: int  # pending or being sent
    oldest_waiting_s: int | None  # how long the oldest of them has waited
    dispatched_at: datetime | None  # the scheduler's last dispatch, None when none is recorded
    dispatched_ago_s: int | None
    stale: bool  # no dispatch for last_dispatch.STALE_AFTER: no scheduler is sending


def outbox_watch(session: Session, redis: redis_lib.Redis, now: datetime) -> OutboxWatch:
    waiting, oldest = session.execute(
        select(func.count(), func.min(OutboxMessage.created_at)).where(OutboxMessage.state.in_((PENDING, SENDING)))
    ).one()
    last = last_dispatch.read(redis)
    return OutboxWatch(waiting, _seconds_since(oldest, now), last, _seconds_since(last, now),
                       last_dispatch.stale(last, now))


def _seconds_since(moment: datetime | None, now: datetime) -> int | None:
    return None if moment is None else max(int((now - moment).total_seconds()), 0)
