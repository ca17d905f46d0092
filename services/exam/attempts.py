"""A trainee's attempts: start (photo, draw), the paper as shown, answers saved as given, 交卷.

An open attempt belongs to the browser session that started it: the view keeps a random token
in that session and passes it here; the attempt stores its SHA-256. Another session gets 409
(staff's `exam release` clears it, and the next session to open the attempt claims it).
The deadline is the server's: every call first grades this trainee's attempts that ran out.
"""
from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Enrollment
from models.exam import ExamAnswer, ExamAttempt
from services import background_cpu
from services.db import transaction
from services.exam import ExamError, photos
from services.exam import paper as papers
from services.exam.faces.gate import FaceGate
from services.exam.grading import ALREADY_SUBMITTED, ExamTools, Result, close, settle_due
from services.exam.state import IN_PROGRESS, LOCKED, PASSED, ExamLine, exams_for
from services.storage import StorageError

NOT_FOUND = "没有找到这次考试。"
OTHER_SESSION = "这场考试已在另一个页面或设备上进行中，请回到原来的页面继续作答；如需更换设备，请联系学校。"
TIME_UP = "考试时间已到，试卷已按作答情况自动交卷。"
STORAGE_DOWN = "照片保存失败，请稍后重试。"


@dataclass(frozen=True)
class AttemptView:
    id: int
    exam_id: int
    major: str
    deadline: datetime
    questions: list[papers.ShownQuestion]
    answers: dict[int, list[str]]
    submitted: bool
    score: int | None
    passed: bool | None
    correct: int | None
    total: int | None
    has_photo_after: bool


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def exam_line(tools: ExamTools, trainee_id: int, exam_id: int, now: datetime) -> ExamLine:
    settle_due(tools, now, trainee_id)
    line = next((e for e in exams_for(tools.session, trainee_id) if e.id == exam_id), None)
    if line is None:
        raise ExamError(NOT_FOUND, 404)
    return line


def start_attempt(tools: ExamTools, trainee_id: int, exam_id: int, token: str, photo: bytes | None,
                  now: datetime, rng: random.Random | None = None) -> tuple[AttemptView, bool]:
    """(the attempt, True) when a new one starts; (the one in progress, False) when it exists."""
    line = exam_line(tools, trainee_id, exam_id, now)
    if line.state == PASSED:
        raise ExamError("本专业考试已合格，无需再考。", 403)
    if line.state == LOCKED:
        raise ExamError("考试尚未开放：" + "，".join(line.missing) + "。", 403)
    if line.state == IN_PROGRESS:
        return view(tools, _own(tools, trainee_id, line.open_attempt_id, token, now)), False
    if tools.faces is not None:
        tools.faces.require_consent(tools.session, trainee_id)
    jpeg = _checked(tools, photo)
    try:
        attempt, questions = _create(tools, trainee_id, line, token, jpeg, now, rng)
    except IntegrityError:
        # Another request of this trainee started the exam a moment earlier: that one stands.
        tools.session.rollback()
        line = exam_line(tools, trainee_id, exam_id, now)
        if line.open_attempt_id is None:
            raise
        return view(tools, _own(tools, trainee_id, line.open_attempt_id, token, now)), False
    return view(tools, attempt, questions), True


def _checked(tools: ExamTools, photo: bytes | None) -> bytes:
    """The photo as it will be stored; with face comparison on, it must show exactly one face.
    The work is done at lower priority (services.background_cpu): beats and callbacks go first."""
    return background_cpu.run(_prepared, tools.faces, photo)


def _prepared(faces: FaceGate | None, photo: bytes | None) -> bytes:
    prepared = photos.prepare_photo(photo)
    if faces is not None:
        faces.check_photo(prepared.image)  # the picture just decoded, not the JPEG decoded again
    return prepared.jpeg


def _create(tools: ExamTools, trainee_id: int, line: ExamLine, token: str, jpeg: bytes, now: datetime,
            rng: random.Random | None) -> tuple[ExamAttempt, dict[int, papers.Question]]:
    session = tools.session
    with _storing(session):
        paper, questions = papers.draw_with_questions(session, line.major_code, tools.rules, rng)
        attempt = ExamAttempt(
            enrollment_id=line.id, trainee_id=trainee_id, major_id=line.major_id, session_hash=token_hash(token),
            paper=paper, started_at=now,
            deadline=now + timedelta(seconds=tools.rules.time_limit_s),
        )
        session.add(attempt)
        session.flush()
        attempt.photo_before = photos.new_key(attempt.id, "before")
        tools.storage.put(attempt.photo_before, jpeg, "image/jpeg")
    return attempt, questions


@contextmanager
def _storing(session: Session) -> Iterator[None]:
    """One transaction that also stores a photo: a photo store that can't be reached is a 503 in Chinese."""
    try:
        with transaction(session):
            yield
    except StorageError:
        raise ExamError(STORAGE_DOWN, 503) from None


def _own(tools: ExamTools, trainee_id: int, attempt_id: int | None, token: str, now: datetime,
         open_only: bool = False) -> ExamAttempt:
    """The trainee's attempt; while open, only for the session that holds it (a released one is claimed)."""
    attempt = tools.session.get(ExamAttempt, attempt_id) if attempt_id else None
    if attempt is None or attempt.trainee_id != trainee_id:
        raise ExamError(NOT_FOUND, 404)
    if attempt.is_open and attempt.deadline <= now:
        settle_due(tools, now, trainee_id)
        tools.session.refresh(attempt)
        if open_only:
            raise ExamError(TIME_UP, 409)
    if not attempt.is_open:
        if open_only:
            raise ExamError(ALREADY_SUBMITTED, 409)
        return attempt
    if attempt.session_hash is None:
        attempt.session_hash = token_hash(token)
        tools.session.commit()
    elif attempt.session_hash != token_hash(token):
        raise ExamError(OTHER_SESSION, 409)
    return attempt


def get_attempt(tools: ExamTools, trainee_id: int, attempt_id: int, token: str, now: datetime) -> AttemptView:
    return view(tools, _own(tools, trainee_id, attempt_id, token, now))


def save_answer(tools: ExamTools, trainee_id: int, attempt_id: int, token: str, question_id: int,
                keys: object, now: datetime) -> None:
    """Saves (or, with no keys, clears) one answer of an open attempt."""
    attempt = _own(tools, trainee_id, attempt_id, token, now, open_only=True)
    item = next((i for i in attempt.paper if i["q"] == question_id), None)
    if item is None:
        raise ExamError("这道题不在本次试卷中。", 404)
    question = papers.questions_of(tools.session, [item])[question_id]
    chosen = _keys(keys, papers.shown_keys(item, question), question.kind)
    session = tools.session
    try:
        session.execute(delete(ExamAnswer).where(ExamAnswer.attempt_id == attempt.id,
                                                 ExamAnswer.question_id == question_id))
        if chosen:
            session.add(ExamAnswer(attempt_id=attempt.id, question_id=question_id, keys=chosen, answered_at=now))
        session.commit()
    except IntegrityError:
        session.rollback()  # the same answer saved twice at once: the other one stands
    except BaseException:
        session.rollback()
        raise


def _keys(keys: object, allowed: set[str], kind: str) -> str:
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ExamError("答案格式不正确。")
    if any(k not in allowed for k in keys) or len(set(keys)) != len(keys):
        raise ExamError("答案中有这道题没有的选项。")
    if kind != "multi" and len(keys) > 1:
        raise ExamError("这道题只能选一个答案。")
    return "".join(sorted(keys))


def submit(tools: ExamTools, trainee_id: int, attempt_id: int, token: str, photo: bytes | None,
           now: datetime) -> Result:
    """交卷 with the photo taken after the exam: graded at once; a pass completes the major."""
    attempt = _own(tools, trainee_id, attempt_id, token, now, open_only=True)
    jpeg = _checked(tools, photo)
    with _storing(tools.session):
        result = close(tools, attempt, now, "trainee")
        attempt.photo_after = photos.new_key(attempt.id, "after")
        tools.storage.put(attempt.photo_after, jpeg, "image/jpeg")
    return result


def view(tools: ExamTools, attempt: ExamAttempt, questions: dict[int, papers.Question] | None = None) -> AttemptView:
    """The attempt as its page shows it; `questions`: its paper's, when the caller has them already."""
    questions = questions if questions is not None else papers.questions_of(tools.session, attempt.paper)
    answers = dict(tools.session.execute(
        select(ExamAnswer.question_id, ExamAnswer.keys).where(ExamAnswer.attempt_id == attempt.id)).all())
    enrollment = tools.session.get_one(Enrollment, attempt.enrollment_id)
    return AttemptView(
        id=attempt.id, exam_id=attempt.enrollment_id, major=enrollment.major.name, deadline=attempt.deadline,
        questions=papers.shown(attempt.paper, questions), answers={q: list(k) for q, k in answers.items()},
        submitted=not attempt.is_open, score=attempt.score, passed=attempt.passed, correct=attempt.correct,
        total=attempt.total, has_photo_after=attempt.photo_after is not None,
    )


def photo(tools: ExamTools, trainee_id: int, attempt_id: int, which: str) -> bytes:
    """The trainee's own photo of an attempt (before / after), for the exam page only."""
    attempt = tools.session.get(ExamAttempt, attempt_id)
    key = None
    if attempt is not None and attempt.trainee_id == trainee_id:
        key = {"before": attempt.photo_before, "after": attempt.photo_after}.get(which)
    if key is None:
        raise ExamError("没有这张照片。", 404)
    try:
        return tools.storage.get(key)
    except StorageError:
        raise ExamError("照片暂时无法读取，请稍后重试。", 503) from None
