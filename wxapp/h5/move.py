"""更换绑定的微信 (CONTRACT §4): the two posts that follow a 认证登录 whose phone and ID card matched
a trainee bound to another WeChat. That try left a ticket in the session (`views.MOVE_TICKET`), so
nothing is typed again: `POST /h5/bind/move/code` texts a code to the roster phone and answers the
code form; `POST /h5/bind/move` with the right code moves the binding and goes to the portal. The
rules (limits, the transaction, the word to the old WeChat) are `services.rebind`'s."""
from __future__ import annotations

import logging

import redis as redis_lib
from flask import redirect, render_template, request, session, url_for

from services import rebind
from wxapp.extensions import db, limiter, notice_desk, pii, redis_client
from wxapp.h5 import bp
from wxapp.h5.auth import current_openid, openid_required
from wxapp.h5.views import MOVE_TICKET, UNAVAILABLE, BindForm, bind_page
from wxapp.logs import kv

log = logging.getLogger(__name__)

RESTART = "更换绑定的页面已过期，请重新填写手机号和身份证号。"


@bp.post("/bind/move/code")
@openid_required
@limiter.limit("300 per minute")
def move_code():
    ticket = rebind.Ticket.from_dict(session.get(MOVE_TICKET), current_openid())
    if ticket is None:
        return _restart(RESTART)
    try:
        sent = rebind.send_code(notice_desk(), redis_client(), pii(), ticket, request.remote_addr)
    except rebind.MoveRefused as refused:
        if refused.restart:
            return _restart(refused.message)
        return _code_page(ticket, refused.message, 400)
    except redis_lib.RedisError as exc:
        log.warning(kv("move_unavailable", error=type(exc).__name__))
        return _code_page(ticket, UNAVAILABLE, 503)
    return render_template("h5/move.html", phone_mask=sent.phone_mask, sent=True, error="",
                           minutes=sent.expires_in_s // 60)


@bp.post("/bind/move")
@openid_required
@limiter.limit("300 per minute")
def move():
    ticket = rebind.Ticket.from_dict(session.get(MOVE_TICKET), current_openid())
    if ticket is None:
        return _restart(RESTART)
    try:
        rebind.move(notice_desk(), redis_client(), pii(), ticket, request.remote_addr,
                    request.form.get("code", "")[:64])
    except rebind.MoveRefused as refused:
        if refused.restart:
            return _restart(refused.message)
        return _code_page(ticket, refused.message, 400)
    except redis_lib.RedisError as exc:
        log.warning(kv("move_unavailable", error=type(exc).__name__))
        return _code_page(ticket, UNAVAILABLE, 503)
    session.pop(MOVE_TICKET, None)
    return redirect(url_for("h5.learn"), 303)


def _code_page(ticket: rebind.Ticket, error: str, status: int):
    return render_template("h5/move.html", phone_mask=rebind.roster_phone_mask(db.session, ticket), sent=False,
                           error=error, minutes=rebind.CODE_TTL_S // 60), status


def _restart(message: str):
    session.pop(MOVE_TICKET, None)
    return bind_page(BindForm(formdata=None), {"form": message}, 400)
