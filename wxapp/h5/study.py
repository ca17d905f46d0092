"""Studying: the lesson player (/h5/lesson/<id>), its exercise, and the attendance page that a
scanned QR opens (/h5/attend/<token>). The token appears in no log line and, through the
no-referrer policy, in no Referer header either."""
from __future__ import annotations

import logging
import time

from flask import g, make_response, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from services.identity.pii import mask_name, short_openid
from services.study import attendance, exercises, learning
from services.study.player import LessonRetired, PageClosed, Superseded
from wxapp import config
from wxapp.extensions import db, player, redis_client
from wxapp.h5 import bp
from wxapp.h5.auth import error_page, signed_in_openid, trainee_required
from wxapp.h5.expired import take_typed
from wxapp.logs import kv

log = logging.getLogger(__name__)

ATTEND_OUTCOMES = {  # outcome of a confirm → (status, message)
    "verified": (200, "验证成功，请回到播放页面继续学习。"),
    "used": (409, "这个二维码已经确认过了，无需重复确认。"),
    "expired": (410, "这个二维码已过期。请回到播放页面，点击“重新验证”获取新的二维码。"),
}


def _private(response, referrer: bool = True):
    response.headers["Cache-Control"] = "no-store"
    if not referrer:
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/lesson/<int:lesson_id>")
@trainee_required
def lesson(lesson_id: int):
    info = learning.lesson_for(db.session, g.trainee.id, lesson_id)
    if info is None:
        return error_page("没有找到这个课程视频，请从“在线学习”进入。", 404)
    try:
        page = player().open_page(g.trainee.id, signed_in_openid(), lesson_id, time.time())
    except LessonRetired as exc:
        return error_page(exc.message, 410)
    return _private(make_response(render_template(
        "h5/player.html", lesson=info, page=page, heartbeat_s=config.current().play_heartbeat_s,
        next_lesson=learning.next_lesson(db.session, lesson_id, g.trainee.id),
        now_ms=int(time.time() * 1000), stopped={"superseded": Superseded().message, "closed": PageClosed().message},
    )))


@bp.route("/lesson/<int:lesson_id>/exercise", methods=["GET", "POST"])
@trainee_required
def exercise(lesson_id: int):
    info = learning.lesson_for(db.session, g.trainee.id, lesson_id)
    if info is None:
        return error_page("没有找到这个课程视频，请从“在线学习”进入。", 404)
    questions = exercises.questions(db.session, lesson_id)
    if not questions:
        return redirect(url_for("h5.lesson", lesson_id=lesson_id), 302)
    if not exercises.video_done(db.session, g.trainee.id, lesson_id):
        if info.retired:  # its video can't be watched any more; one watched before keeps its exercise
            return error_page(LessonRetired().message, 410)
        return render_template("h5/exercise.html", lesson=info, questions=[], not_yet=True)
    result, kept = None, False
    given: MultiDict[str, str] = MultiDict()
    if request.method == "POST":
        answers = {q.id: "".join(request.form.getlist(f"q{q.id}")) for q in questions}
        result = player().submit_exercise(g.trainee.id, lesson_id, answers, time.time())
        given = request.form
    elif (typed := take_typed(request.path)) is not None:  # a 交卷 refused as expired: the choices kept
        given, kept = typed, True
    return _private(make_response(render_template(
        "h5/exercise.html", lesson=info, questions=questions, result=result, not_yet=False, given=given, kept=kept,
        next_lesson=(learning.next_lesson(db.session, lesson_id, g.trainee.id)
                     if result is not None and result.passed else None),
    )))


@bp.route("/attend/<token>", methods=["GET", "POST"])
@trainee_required
def attend(token: str):
    now = time.time()
    check = attendance.by_token(redis_client(), db.session, token, now)
    if check is None:
        page = error_page("二维码无效。请回到播放页面，扫描页面上的二维码。", 404)
        return _private(make_response(page), referrer=False)
    name, title = attendance.who(db.session, check)
    mine = check.trainee_id == g.trainee.id
    status, message = 200, None
    if request.method == "POST" and not mine:
        attendance.refuse(db.session, check, signed_in_openid(), now)
        log.warning(kv("attendance_refused", check=check.id, openid=short_openid(signed_in_openid())))
        status, message = 403, "这不是您本人的考勤验证。请学员本人用自己认证登录过的微信扫码确认。"
    elif request.method == "POST":
        outcome = player().confirm_check(token, check, signed_in_openid(), now)
        if outcome == "verified":
            log.info(kv("attendance_verified", check=check.id, trainee=check.trainee_id))
        status, message = ATTEND_OUTCOMES[outcome]
        check = attendance.by_token(redis_client(), db.session, token, now) or check
    return _private(make_response(render_template(
        "h5/attend.html", check=check, name=name if mine else mask_name(name), title=title, mine=mine,
        message=message, remaining=max(0, int(check.expires_at - now)), refused=status == 403,
    ), status), referrer=False)


@bp.app_template_filter("duration")
def duration_text(seconds: int) -> str:
    """A lesson's length as a trainee reads it: 45秒, 9分56秒, 45分钟 (never "0分钟")."""
    seconds = max(0, int(seconds))
    minutes, rest = divmod(seconds, 60)
    if minutes == 0:
        return f"{rest}秒"
    if rest == 0 or minutes >= 10:
        return f"{round(seconds / 60)}分钟"
    return f"{minutes}分{rest}秒"
