"""Staff's actions on the catalog, for the console and the CLI alike: the lessons' order, and
retiring (停用) and restoring (恢复) a lesson; each recorded in the audit log in its transaction.

A lesson is never deleted: staff retire it and may restore it. Trainees no longer see or start a
retired lesson, and the hours they earned on it still count.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Lesson, LessonProgress
from services import ServiceError
from services.db import found, transaction
from services.identity import audit
from services.school.imports.catalog import hours_warning
from services.timeutil import utcnow


class CatalogError(ServiceError):
    pass


def _lesson(session: Session, lesson_id: int) -> Lesson:
    return found(session, Lesson, lesson_id, "没有这个视频课时", CatalogError)


def move_lesson(session: Session, lesson_id: int, up: bool, actor: str) -> Lesson:
    """Swaps the lesson with its neighbour in use (trainees see lessons in this order; retired ones
    keep their places and are stepped over), recorded."""
    with transaction(session):
        return _move(session, _lesson(session, lesson_id), up, actor)


def _move(session: Session, lesson: Lesson, up: bool, actor: str) -> Lesson:
    siblings = sorted(lesson.course.lessons, key=lambda x: (x.position, x.id))
    active = [x for x in siblings if not x.retired or x is lesson]
    at = active.index(lesson)
    other = at - 1 if up else at + 1
    if not 0 <= other < len(active):
        raise CatalogError(f"“{lesson.title}”已在{'最前' if up else '最后'}")
    i, j = siblings.index(lesson), siblings.index(active[other])
    siblings[i], siblings[j] = siblings[j], siblings[i]
    for n, item in enumerate(siblings, 1):
        item.position = n  # numbered afresh: equal positions from older imports can't stall a move
    audit.record(session, actor, "lesson_moved", f"lesson:{lesson.id}",
                 f"{lesson.course.name}：“{lesson.title}”{'上移' if up else '下移'}到第 {other + 1} 位")
    return lesson


@dataclass(frozen=True)
class Retirement:
    """A lesson retired or restored: how many trainees studied it, and the course's hours warning
    after the change (None: its active lessons hold exactly the hours it requires)."""

    lesson_id: int
    title: str
    retired: bool
    studied: int  # trainees with any progress on the lesson
    earned: int  # of them, those who completed it (their hours stay theirs)
    warning: str | None


def retire_lesson(session: Session, lesson_id: int, actor: str) -> Retirement:
    """Retires the lesson (trainees no longer see or start it; hours earned on it still count), recorded."""
    with transaction(session):
        lesson = _lesson(session, lesson_id)
        if lesson.retired:
            raise CatalogError(f"“{lesson.title}”已停用")
        lesson.retired_at = utcnow()
        return _recorded(session, lesson, actor)


def restore_lesson(session: Session, lesson_id: int, actor: str) -> Retirement:
    """Puts a retired lesson back in use for trainees, recorded."""
    with transaction(session):
        lesson = _lesson(session, lesson_id)
        if not lesson.retired:
            raise CatalogError(f"“{lesson.title}”未停用，无需恢复")
        lesson.retired_at = None
        return _recorded(session, lesson, actor)


def _recorded(session: Session, lesson: Lesson, actor: str) -> Retirement:
    studied, earned = session.execute(
        select(func.count(LessonProgress.id), func.count(LessonProgress.completed_at))
        .where(LessonProgress.lesson_id == lesson.id)
    ).one()
    done = Retirement(lesson.id, lesson.title, lesson.retired, studied, earned, hours_warning(lesson.course))
    what = "停用" if done.retired else "恢复"
    detail = f"{lesson.course.name}：“{lesson.title}”{what}；学过的学员 {studied} 名，其中已获得学时 {earned} 名"
    audit.record(session, actor, "lesson_retired" if done.retired else "lesson_restored", f"lesson:{lesson.id}",
                 "；".join([detail, *([done.warning] if done.warning else [])]))
    return done
