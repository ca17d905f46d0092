"""Earned hours: their one definition, and the summary every hours figure reads.

A trainee earns a lesson's hours when the lesson is completed (`LessonProgress.completed_at`); a
course's earned hours are the hours of its completed lessons, at most what the course requires
(`capped`; `complete` when they reach it). A retired lesson's hours, once earned, still count.

Adding those up from the lesson-progress rows of every trainee (200,000 rows at a school's size)
kept the staff dashboard over a second, so they are kept summed per trainee and course in
`HoursSummary`, which everything that shows earned hours reads. The summary is derived, never edited:
`refresh` recounts a trainee's rows from their progress rows (`recount`), under a lock on the
trainee's row, so that two transactions completing lessons of one trainee can't each count without
the other's. Session hooks call it in the same flush as any write that can change it, so that no
writer can forget to:

- a lesson-progress row added, deleted, completed or moved (the player's flush, an exercise passed);
- a lesson whose hours or course change (a catalog import), or a lesson deleted: every trainee with
  progress on it or in its course;
- a bulk statement on those tables (`session.execute(insert(LessonProgress), rows)`): the trainees it
  names, or every trainee when it can't say.

SQL run beside the ORM session (a migration, a psql session) must call `rebuild` after it
(`flask trainee recount-hours`).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Result,
    ScalarSelect,
    Select,
    bindparam,
    case,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.orm import InstrumentedAttribute, ORMExecuteState, Session, UOWTransaction
from sqlalchemy.sql import ClauseElement

from models import Course, HoursSummary, Lesson, LessonProgress, Trainee
from models.catalog import COURSE_PUBLIC

CHUNK = 500  # trainees recounted per statement: bind parameters stay far below any backend's limit
# The columns whose change changes earned hours, per table.
_WATCHED = {"lesson_progress": frozenset({"trainee_id", "lesson_id", "completed_at"}),
            "lessons": frozenset({"course_id", "hours"})}


def capped(earned: Decimal | int | None, required: Decimal | int) -> Decimal:
    """A course's earned hours as every page shows them: at most what the course requires."""
    return min(Decimal(earned or 0), Decimal(required))


def complete() -> ColumnElement[bool]:
    """SQL over `HoursSummary` joined with its `Course`: the course's hours are all earned."""
    return HoursSummary.hours_earned >= Course.hours_required


def earned_of(course_id: InstrumentedAttribute[int]) -> ScalarSelect[Decimal]:
    """SQL: the hours (not capped) the trainee bound at run time as `trainee_id` earned in the course."""
    return (select(HoursSummary.hours_earned)
            .where(HoursSummary.course_id == course_id, HoursSummary.trainee_id == bindparam("trainee_id"))
            .scalar_subquery())


def earned(session: Session, trainee_ids: Select[int] | Sequence[int],
           course_ids: Iterable[int] | None = None) -> dict[tuple[int, int], Decimal]:
    """(trainee, course) → earned hours, capped, for the trainees (ids or a query of ids) and
    courses (all when None); a pair with nothing earned is absent."""
    stmt = (select(HoursSummary.trainee_id, HoursSummary.course_id, HoursSummary.hours_earned, Course.hours_required)
            .join(Course, Course.id == HoursSummary.course_id)
            .where(HoursSummary.trainee_id.in_(trainee_ids)))
    if course_ids is not None:
        stmt = stmt.where(HoursSummary.course_id.in_(list(course_ids)))
    return {(trainee_id, course_id): capped(hours, required)
            for trainee_id, course_id, hours, required in session.execute(stmt)}


def done_courses() -> Select[int, int | None, str]:
    """(trainee, major, kind) of each course whose hours a trainee has all earned."""
    return (select(HoursSummary.trainee_id, Course.major_id, Course.kind)
            .join(Course, Course.id == HoursSummary.course_id).where(complete()))


def per_trainee() -> Select[int, int, int]:
    """Per trainee with confirmed watching: whether the 公共课 and whether any 专业课 is complete (1 or 0)."""
    public = Course.kind == COURSE_PUBLIC
    return (select(HoursSummary.trainee_id, func.max(case((public & complete(), 1), else_=0)).label("public_done"),
                   func.max(case((~public & complete(), 1), else_=0)).label("major_done"))
            .join(Course, Course.id == HoursSummary.course_id).group_by(HoursSummary.trainee_id))


def studying() -> Select[int]:
    """Trainees with confirmed watching of any lesson (a trainee once per course: for `IN`, not to count)."""
    return select(HoursSummary.trainee_id)


# -- keeping the summary ----------------------------------------------------------------------

def recount() -> Select[int, int, int, int, Decimal]:
    """The summary's rows counted from the lesson-progress rows: the definition the summary keeps."""
    completed = LessonProgress.completed_at.is_not(None)
    return (select(LessonProgress.trainee_id, Lesson.course_id, func.count(), func.count(LessonProgress.completed_at),
                   func.coalesce(func.sum(case((completed, Lesson.hours))), 0).label("hours_earned"))
            .join(Lesson, Lesson.id == LessonProgress.lesson_id)
            .group_by(LessonProgress.trainee_id, Lesson.course_id))


def refresh(connection: Connection, trainee_ids: Iterable[int]) -> int:
    """Recounts the trainees' summary rows, in the caller's transaction; returns how many trainees.

    Each trainee's row is locked first (PostgreSQL; FOR NO KEY UPDATE, which rows referring to the
    trainee don't wait for), so the recount, a statement of its own, sees every completion committed
    by a transaction that recounted the same trainee before. Trainees are locked in id order, and
    nothing holding a trainee's lock waits for a progress row, so recounts can't deadlock."""
    ordered = sorted(set(trainee_ids))
    columns = ["trainee_id", "course_id", "lessons_started", "lessons_completed", "hours_earned"]
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start:start + CHUNK]
        connection.execute(select(Trainee.id).where(Trainee.id.in_(chunk)).order_by(Trainee.id)
                           .with_for_update(key_share=True))
        connection.execute(delete(HoursSummary).where(HoursSummary.trainee_id.in_(chunk)))
        connection.execute(insert(HoursSummary).from_select(
            columns, recount().where(LessonProgress.trainee_id.in_(chunk))))
    return len(ordered)


def rebuild(connection: Connection) -> int:
    """Recounts every trainee's summary (after SQL that bypassed the session hooks); returns how many trainees."""
    return refresh(connection, connection.scalars(_everyone()))


def _everyone() -> Select[int]:
    return select(LessonProgress.trainee_id).union(select(HoursSummary.trainee_id)).subquery().select()


def _touching(connection: Connection, lessons: set[Lesson]) -> set[int]:
    """Trainees whose hours these lessons (changed or deleted) may change: those with progress on them,
    and those with hours in their courses (a deleted lesson's progress rows went with it)."""
    with_progress = select(LessonProgress.trainee_id).where(LessonProgress.lesson_id.in_({x.id for x in lessons}))
    in_courses = select(HoursSummary.trainee_id).where(HoursSummary.course_id.in_({x.course_id for x in lessons}))
    return set(connection.scalars(with_progress.union(in_courses)))


def _changed(obj: object, names: Iterable[str]) -> list[Any]:
    """Old and new values of the attributes among `names` that this flush changes."""
    attrs = inspect(obj).attrs
    values: list[Any] = []
    for name in names:
        history = attrs[name].history
        if history.has_changes():
            values += [*history.added, *history.deleted]
    return values


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    trainees: set[int] = set()
    lessons: set[Lesson] = set()
    for obj in session.new:
        if isinstance(obj, LessonProgress):
            trainees.add(obj.trainee_id)
    for obj in session.deleted:
        if isinstance(obj, LessonProgress):
            trainees.add(obj.trainee_id)
        elif isinstance(obj, Lesson):
            lessons.add(obj)
    for obj in session.dirty:
        if isinstance(obj, LessonProgress) and _changed(obj, ("trainee_id", "lesson_id", "completed_at")):
            trainees.update(_changed(obj, ("trainee_id",)) or [obj.trainee_id])
        elif isinstance(obj, Lesson) and _changed(obj, ("hours", "course_id", "course")):
            lessons.add(obj)
    if not (trainees or lessons):
        return
    connection = session.connection()
    refresh(connection, trainees | (_touching(connection, lessons) if lessons else set()))


@event.listens_for(Session, "do_orm_execute")
def _after_bulk(state: ORMExecuteState) -> Result[Any] | None:
    """Runs a bulk statement on the watched tables itself, then recounts whom it may have changed."""
    table = getattr(getattr(state.statement, "table", None), "name", None)
    if table not in _WATCHED or not (state.is_insert or state.is_update or state.is_delete):
        return None
    rows = _parameter_rows(state.parameters)
    if state.is_insert and table == "lessons":
        return None  # a new lesson has no progress yet
    if state.is_update and not _WATCHED[table] & _keys(state, rows):
        return None
    result = state.invoke_statement()
    connection = state.session.connection()
    named = [row["trainee_id"] for row in rows if "trainee_id" in row]
    if state.is_insert and rows and len(named) == len(rows):
        refresh(connection, named)
    else:
        rebuild(connection)
    return result


def _parameter_rows(parameters: object) -> list[Mapping[str, Any]]:
    if isinstance(parameters, Mapping):
        return [parameters]
    if isinstance(parameters, Sequence) and not isinstance(parameters, str):
        return [row for row in parameters if isinstance(row, Mapping)]
    return []


def _keys(state: ORMExecuteState, rows: list[Mapping[str, Any]]) -> set[str]:
    """The column names a bulk UPDATE sets, as far as its parameters and compiled form tell."""
    keys = {key for row in rows for key in row}
    if isinstance(state.statement, ClauseElement):
        keys.update(state.statement.compile().params)
    return keys
