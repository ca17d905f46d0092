"""Confirmed progress in the database: loading a lesson's state into the hot store, and writing
it back at meaningful points (a check passed, a lesson completed).

Writes merge rather than overwrite (watched parts are united, counters only grow, moments are
set once), so two processes flushing the same lesson in either order leave the same row.
"""
from __future__ import annotations

import json

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from models import ExerciseQuestion, Lesson, LessonProgress
from services.study import segments
from services.study.play_state import LessonState
from services.timeutil import moment


def load_lesson(session: Session, trainee_id: int, lesson_id: int) -> LessonState | None:
    """The lesson's confirmed state for a trainee as the database has it; None: no such lesson."""
    has_exercise = exists().where(ExerciseQuestion.lesson_id == Lesson.id)
    row = session.execute(
        select(Lesson.duration_s, has_exercise.label("has_exercise"), LessonProgress)
        .outerjoin(LessonProgress, (LessonProgress.lesson_id == Lesson.id) & (LessonProgress.trainee_id == trainee_id))
        .where(Lesson.id == lesson_id)
    ).first()
    if row is None:
        return None
    state = LessonState(duration=float(row.duration_s), has_exercise=bool(row.has_exercise))
    progress = row.LessonProgress
    if progress is not None:
        state.confirmed = json.loads(progress.watched)
        state.confirmed_s = progress.credited_seconds
        state.position = progress.position
        state.video_done = progress.video_done_at is not None
        state.exercise_passed = progress.exercise_passed_at is not None
    return state


def is_retired(session: Session, lesson_id: int) -> bool:
    """True when staff retired the lesson (no new page of it opens)."""
    return bool(session.scalar(select(Lesson.retired_at.is_not(None)).where(Lesson.id == lesson_id)))


def flush(session: Session, trainee_id: int, lesson_id: int, state: LessonState, now: float) -> bool:
    """Merges the confirmed state into the lesson's row (the caller commits); True when this
    write completes the lesson."""
    row = session.scalar(select(LessonProgress).where(
        LessonProgress.trainee_id == trainee_id, LessonProgress.lesson_id == lesson_id))
    if row is None:
        row = LessonProgress(trainee_id=trainee_id, lesson_id=lesson_id, watched="[]", credited_seconds=0.0,
                             max_position=0.0, position=0.0)
        session.add(row)
    watched = segments.union(json.loads(row.watched), state.confirmed)
    row.watched = json.dumps(watched, separators=(",", ":"))
    row.credited_seconds = max(row.credited_seconds or 0.0, round(state.confirmed_s, 2))
    row.max_position = segments.furthest(watched)
    row.position = round(state.position, 2)
    when = moment(now)
    if state.video_done and row.video_done_at is None:
        row.video_done_at = when
    if state.exercise_passed and row.exercise_passed_at is None:
        row.exercise_passed_at = when
    newly_completed = state.completed and row.completed_at is None
    if newly_completed:
        row.completed_at = when
    return newly_completed

