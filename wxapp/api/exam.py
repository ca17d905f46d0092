"""The exam page's JSON (CONTRACT §7): exams, attempts, answers, 交卷.

Every POST and PUT carries the page's CSRF token in `X-CSRFToken` (Flask-WTF checks it). The
browser session that starts an attempt holds a random token (`exam_token`) in its signed cookie;
the attempt is bound to it, so another session gets 409.
"""
from __future__ import annotations

import logging
import secrets

from flask import g, jsonify, request, session

from services.exam import ExamError, attempts, photos
from services.exam.attempts import AttemptView
from services.exam.grading import settle_due
from services.exam.state import exams_for
from services.timeutil import utcnow
from services.wechat_api import WeChatApiError
from wxapp.api import bp
from wxapp.extensions import db, exam_tools, face_gate, limiter, wechat_api
from wxapp.h5.auth import trainee_required

log = logging.getLogger(__name__)

TOKEN_KEY = "exam_token"
MEDIA_ID_MAX = 128


def per_trainee() -> str:
    """Rate limits count per WeChat user: a training room of trainees shares one NAT address."""
    return session.get("openid") or request.remote_addr or "?"


def exam_token() -> str:
    """This browser session's exam token, made on first use."""
    token = session.get(TOKEN_KEY)
    if not isinstance(token, str):
        token = session[TOKEN_KEY] = secrets.token_urlsafe(24)
    return token


def photo_bytes() -> bytes | None:
    """The photo from the form: a file (`photo`) or, inside WeChat, a JS-SDK upload (`media_id`)."""
    upload = request.files.get("photo")
    if upload is not None and upload.filename is not None:
        return upload.read(photos.MAX_BYTES + 1)
    media_id = request.form.get("media_id", "")
    if not media_id or len(media_id) > MEDIA_ID_MAX:
        return None
    try:
        return wechat_api().download_media(media_id, photos.MAX_BYTES)
    except WeChatApiError as exc:
        log.warning("exam_media_fetch_failed errcode=%s", exc.errcode)
        raise ExamError("没有从微信取到照片，请重新拍摄。") from None


def attempt_json(view: AttemptView) -> dict:
    return {
        "id": view.id, "exam_id": view.exam_id, "deadline": view.deadline.isoformat(),
        "questions": [
            {"id": q.id, "type": q.type, "stem": q.stem, "options": [{"key": k, "text": t} for k, t in q.options],
             "answer": view.answers.get(q.id)}
            for q in view.questions
        ],
        "submitted": view.submitted, "score": view.score, "passed": view.passed,
    }


@bp.errorhandler(ExamError)
def exam_error(exc: ExamError):
    return jsonify(error=exc.message), exc.status


@bp.get("/exams")
@trainee_required
def exams():
    tools = exam_tools()
    settle_due(tools, utcnow(), g.trainee.id)
    return jsonify([
        {"id": e.id, "major": e.major, "state": e.state, "best_score": e.best_score, "attempts": e.attempts,
         "time_limit_s": tools.rules.time_limit_s, "missing": e.missing}
        for e in exams_for(tools.session, g.trainee.id)
    ])


@bp.post("/exams/<int:exam_id>/attempts")
@trainee_required
@limiter.limit("20 per minute", key_func=per_trainee)
def start(exam_id: int):
    if request.form.get("face_consent") == "1":
        face_gate().give_consent(db.session, g.trainee.id, utcnow())
    view, created = attempts.start_attempt(exam_tools(), g.trainee.id, exam_id, exam_token(),
                                           _photo_if_needed(), utcnow())
    return jsonify(attempt_json(view)), 201 if created else 200


def _photo_if_needed() -> bytes | None:
    """Reading (or fetching from WeChat) the photo is skipped when the form carries none."""
    if "photo" not in request.files and not request.form.get("media_id"):
        return None
    return photo_bytes()


@bp.get("/attempts/<int:attempt_id>")
@trainee_required
def attempt(attempt_id: int):
    return jsonify(attempt_json(attempts.get_attempt(exam_tools(), g.trainee.id, attempt_id, exam_token(), utcnow())))


@bp.put("/attempts/<int:attempt_id>/answers/<int:question_id>")
@trainee_required
def answer(attempt_id: int, question_id: int):
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or "answer" not in data:
        raise ExamError("请求格式不正确，应为 {\"answer\": [\"A\"]}。")
    attempts.save_answer(exam_tools(), g.trainee.id, attempt_id, exam_token(), question_id, data["answer"], utcnow())
    return "", 204


@bp.post("/attempts/<int:attempt_id>/submit")
@trainee_required
@limiter.limit("20 per minute", key_func=per_trainee)
def submit(attempt_id: int):
    result = attempts.submit(exam_tools(), g.trainee.id, attempt_id, exam_token(), _photo_if_needed(),
                             utcnow())
    return jsonify(score=result.score, passed=result.passed, correct=result.correct, total=result.total)
