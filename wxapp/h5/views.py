"""The trainee's pages: 认证登录 (/h5/bind) and the learning portal (/h5/learn).

A refused bind answers the form again with the phone as typed but never the ID card number (only
its mask, as a hint): the page may sit in a shared phone's history. The form's CSRF token lives as
long as the session (WTF_CSRF_TIME_LIMIT is off), and a form that is refused for its token anyway
(a session that ended) answers this same page, with the phone kept and a Chinese message.
"""
from __future__ import annotations

import logging

import redis as redis_lib
from flask import g, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from wtforms import StringField

from services import rebind
from services.exam.state import exam_state
from services.identity import binding, followers
from services.study import learning
from services.timeutil import local_text, utcnow
from wxapp.extensions import db, limiter, pii, redis_client
from wxapp.h5 import bp
from wxapp.h5.auth import current_openid, openid_required, signed_in_openid, trainee_required
from wxapp.h5.expired import TYPED_MAX, expired_page, keep_typed, take_typed
from wxapp.logs import kv

log = logging.getLogger(__name__)

EXPIRED = "页面停留时间过长，已过期。请核对下面的信息，重新填写身份证号后再提交。"
UNAVAILABLE = "系统暂时无法完成认证，请稍后再试。"
MOVE_TICKET = "move"  # the session's key of the right to move a binding here (services.rebind)
BOUND_ELSEWHERE = "该学员已绑定其他微信。如果您换了微信，可以在下面更换绑定。"


class BindForm(FlaskForm):
    phone = StringField()
    id_card = StringField()


@bp.route("/bind", methods=["GET", "POST"])
@openid_required
# A machine guard: a classroom on one Wi-Fi binds through one address; people are limited per WeChat.
@limiter.limit("300 per minute", methods=["POST"])
def bind():
    me = followers.profile(db.session, signed_in_openid())
    if me is not None:
        return render_template("h5/bound.html", me=me)
    form = BindForm()
    errors: dict[str, str] = {}
    status = 200
    kept = take_typed(request.path) if request.method == "GET" else None
    if kept is not None:  # a form refused without a session: the phone as typed, the ID card again
        form.phone.data = (kept.get("phone") or "")[:TYPED_MAX]
        errors["form"] = EXPIRED
    if form.validate_on_submit():
        attempt = binding.Attempt(openid=signed_in_openid(), ip=request.remote_addr,
                                  phone=(form.phone.data or "")[:TYPED_MAX],
                                  id_card=(form.id_card.data or "")[:TYPED_MAX])
        try:
            binding.bind(db.session, redis_client(), pii(), attempt)
        except binding.BindRefused as refused:
            errors[refused.field or "form"], status = refused.message, 400
            ticket = rebind.ticket_for(refused, attempt.openid)
            if ticket is not None:  # phone and ID card matched: this WeChat may take the binding over
                session[MOVE_TICKET] = ticket.as_dict()
                phone_mask = rebind.roster_phone_mask(db.session, ticket)
                return bind_page(form, {"form": BOUND_ELSEWHERE}, 400, move_to=phone_mask)
        except redis_lib.RedisError as exc:  # no counting, no try: the locks must hold
            log.warning(kv("bind_unavailable", error=type(exc).__name__))
            errors["form"], status = UNAVAILABLE, 503
        else:
            return redirect(url_for("h5.learn"), 303)
    return bind_page(form, errors, status)


def bind_page(form: BindForm, errors: dict[str, str], status: int, move_to: str = ""):
    """The form again: the phone as typed, the ID card only as a masked hint; with `move_to` (the
    roster phone, masked), the offer to move the binding to this WeChat."""
    typed = (form.id_card.data or "")[:TYPED_MAX] if request.method == "POST" else ""
    hint = binding.typed_id_card_mask(typed) if typed.strip() else ""
    return render_template("h5/bind.html", form=form, errors=errors, id_card_hint=hint, move_to=move_to), status


def bind_expired():
    """The answer to a bind form refused for its CSRF token: the same page, what was typed kept."""
    openid = current_openid()
    if openid is None:
        return None
    if followers.profile(db.session, openid) is not None:
        return redirect(url_for("h5.bind"), 303)
    form = BindForm(formdata=request.form)
    form.phone.data = (form.phone.data or "")[:TYPED_MAX]
    return bind_page(form, {"form": EXPIRED}, 400)


def answer_expired():
    """The answer to any trainee form refused for its token (wxapp/errors.py): what was typed is
    kept, with a way to try again."""
    if request.endpoint == "h5.bind":
        answer = bind_expired()
        if answer is not None:
            return answer
    elif request.endpoint == "h5.exercise" and current_openid() is not None:
        keep_typed()  # the exercise opens again, the choices kept, with a fresh token
        return redirect(request.path, 303)
    return expired_page()


@bp.get("/learn")
@trainee_required
def learn():
    me = g.trainee  # the greeting's name and company, read with the binding (no second look-up)
    details = {c.major: c for c in learning.course_details(db.session, g.trainee.id)}
    lines = learning.courses(db.session, g.trainee.id)
    classes = learning.classes(db.session, g.trainee.id)
    return render_template("h5/learn.html", me=me, details=details, lines=lines, classes=classes,
                           exam=exam_state(db.session, g.trainee.id, lines), local_text=local_text,
                           started=learning.started(db.session, g.trainee.id),
                           days_to_start=lambda c: learning.days_to_start(c.starts_at, utcnow()))
