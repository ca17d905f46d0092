"""After-lesson exercises (课后练习): questions shown without their answers, answers graded on the
server, unlimited tries. Answering all of them right, once the video is watched to the end,
earns the lesson's hours.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ExerciseAttempt, ExerciseQuestion, LessonProgress
from services import ServiceError
from services.school.imports.exercises import QUESTION_KIND_LABELS
from services.timeutil import moment

LETTERS = "ABCDEF"


class NotYet(ServiceError):
    def __init__(self) -> None:
        super().__init__("请先看完本课视频，再做课后练习。")


@dataclass(frozen=True)
class Question:
    id: int
    number: int
    kind: str
    stem: str
    options: list[tuple[str, str]]  # (letter, text)

    @property
    def kind_label(self) -> str:
        return QUESTION_KIND_LABELS[self.kind]


@dataclass(frozen=True)
class Grade:
    correct: int
    total: int
    wrong: list[int]  # numbers of the questions answered wrong or not at all
    passed: bool
    completed: bool  # this attempt earned the lesson's hours


def questions(session: Session, lesson_id: int) -> list[Question]:
    rows = session.scalars(select(ExerciseQuestion).where(ExerciseQuestion.lesson_id == lesson_id)
                           .order_by(ExerciseQuestion.position)).all()
    return [Question(q.id, number, q.kind, q.stem, list(zip(LETTERS, json.loads(q.options), strict=False)))
            for number, q in enumerate(rows, start=1)]


def video_done(session: Session, trainee_id: int, lesson_id: int) -> bool:
    return session.scalar(select(LessonProgress.video_done_at).where(
        LessonProgress.trainee_id == trainee_id, LessonProgress.lesson_id == lesson_id)) is not None


def normalize(raw: str | list[str]) -> str:
    """An answer as sorted distinct letters, whatever way it was given (a list of letters, `ca`)."""
    letters = raw if isinstance(raw, str) else "".join(raw)
    return "".join(sorted({c for c in letters.upper() if c in LETTERS}))


def grade(session: Session, trainee_id: int, lesson_id: int, answers: dict[int, str], now: float) -> Grade:
    """Grades one 交卷 (`answers`: question id → letters), records it, and on all right marks the
    exercise passed and the lesson completed when its video is done. Commits."""
    rows = session.scalars(select(ExerciseQuestion).where(ExerciseQuestion.lesson_id == lesson_id)
                           .order_by(ExerciseQuestion.position)).all()
    if not rows:
        raise ServiceError("本课没有课后练习")
    progress = session.scalar(select(LessonProgress).where(
        LessonProgress.trainee_id == trainee_id, LessonProgress.lesson_id == lesson_id).with_for_update())
    if progress is None or progress.video_done_at is None:
        raise NotYet()
    given = {q.id: normalize(answers.get(q.id, "")) for q in rows}
    wrong = [number for number, q in enumerate(rows, start=1) if given[q.id] != q.answer]
    passed = not wrong
    session.add(ExerciseAttempt(trainee_id=trainee_id, lesson_id=lesson_id, at=moment(now),
                                correct=len(rows) - len(wrong), total=len(rows), passed=passed,
                                answers=json.dumps(given)))
    completed = False
    if passed and progress.exercise_passed_at is None:
        progress.exercise_passed_at = moment(now)
    if passed and progress.completed_at is None:
        progress.completed_at, completed = moment(now), True
    session.commit()
    return Grade(len(rows) - len(wrong), len(rows), wrong, passed, completed)
