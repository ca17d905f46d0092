"""The exam page (/h5/exam, CONTRACT §7) and the trainee's own exam photos.

The page is one server-rendered shell; `static/exam.js` drives it through the JSON API. Inside
WeChat it also gets a signed `wx.config` for the JS-SDK camera (chooseImage / uploadImage);
elsewhere, or when WeChat's ticket can't be had, it uses a file input with `capture=user`.
"""
from __future__ import annotations

import logging
import secrets
import time

from flask import Response, g, make_response, render_template, request

from services.exam import ExamError, attempts
from services.exam.faces.gate import consent_text
from services.exam.grading import settle_due
from services.exam.state import IN_PROGRESS, exams_for
from services.timeutil import utcnow
from services.wechat_api import WeChatApiError
from wxapp import config
from wxapp.api.exam import exam_token
from wxapp.extensions import exam_tools, face_gate, wechat_api
from wxapp.h5 import bp
from wxapp.h5.auth import error_page, trainee_required

log = logging.getLogger(__name__)

JS_API_LIST = ["chooseImage", "uploadImage", "getLocalImgData"]


def _jssdk_config() -> dict | None:
    """`wx.config`'s arguments for this page, inside WeChat only; None when they can't be had."""
    if not config.current().wechat_jssdk_url or "MicroMessenger" not in request.user_agent.string:
        return None
    url = config.current().public_base_url + request.full_path.rstrip("?")
    nonce, timestamp = secrets.token_hex(8), int(time.time())
    try:
        signature = wechat_api().jsapi_signature(nonce, timestamp, url)
    except WeChatApiError as exc:
        log.warning("exam_jsapi_ticket_failed errcode=%s", exc.errcode)
        return None
    return {"appId": config.current().wechat_appid, "timestamp": timestamp, "nonceStr": nonce,
            "signature": signature, "jsApiList": JS_API_LIST}


@bp.get("/exam")
@trainee_required
def exam():
    tools = exam_tools()
    settle_due(tools, utcnow(), g.trainee.id)
    lines = exams_for(tools.session, g.trainee.id)
    exam_token()  # bind this browser session before the page's first call
    resume = next((e.open_attempt_id for e in lines if e.state == IN_PROGRESS), None)
    page = {
        "exams": [{"id": e.id, "major": e.major, "state": e.state, "best_score": e.best_score,
                   "attempts": e.attempts, "missing": e.missing, "voided": e.voided} for e in lines],
        "time_limit_s": tools.rules.time_limit_s, "pass_score": tools.rules.pass_score,
        "question_count": tools.rules.question_count, "resume": resume, "jssdk": _jssdk_config(),
        "learn_url": "/h5/learn", "certificates_url": "/h5/certificates",
        # The server's clock: the page counts down to the server's deadline, whatever the phone's clock says.
        "now_ms": int(time.time() * 1000),
    }
    response = make_response(render_template("h5/exam.html", page=page, name=g.trainee.name,
                                             face=face_consent_page(g.trainee.id)))
    response.headers["Cache-Control"] = "no-store"
    return response


def face_consent_page(trainee_id: int) -> dict:
    """The exam notice's face comparison block (h5/_face_consent.html): asked only where enabled."""
    gate = face_gate()
    return {"required": gate.enabled, "consented": gate.has_consent(exam_tools().session, trainee_id),
            "text": consent_text(gate.settings) if gate.enabled else []}


@bp.get("/exam/attempts/<int:attempt_id>/photo/<which>")
@trainee_required
def exam_photo(attempt_id: int, which: str):
    """The trainee's own photo, to show on the exam page; never cached by a shared proxy."""
    try:
        jpeg = attempts.photo(exam_tools(), g.trainee.id, attempt_id, which)
    except ExamError as exc:
        return error_page(exc.message, exc.status)
    return Response(jpeg, mimetype="image/jpeg", headers={"Cache-Control": "private, no-store"})
