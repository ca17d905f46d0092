"""The trainee's pages: 认证登录 (/h5/bind) and the learning portal (/h5/learn)."""
from __future__ import annotations

from flask import g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import StringField

from services.exam.state import exam_state
from services.identity import binding, followers
from services.study import learning
from services.timeutil import local_text
from wxapp.extensions import db, limiter, pii, redis_client
from wxapp.h5 import bp
from wxapp.h5.auth import current_openid, openid_required, trainee_required


class BindForm(FlaskForm):
    phone = StringField()
    id_card = StringField()


@bp.route("/bind", methods=["GET", "POST"])
@openid_required
@limiter.limit("30 per minute", methods=["POST"])
def bind():
    me = followers.profile(db.session, current_openid())
    if me is not None:
        return render_template("h5/bound.html", me=me)
    form = BindForm()
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        attempt = binding.Attempt(openid=current_openid(), ip=request.remote_addr,
                                  phone=form.phone.data or "", id_card=form.id_card.data or "")
        try:
            binding.bind(db.session, redis_client(), pii(), attempt)
        except binding.BindRefused as refused:
            errors[refused.field or "form"] = refused.message
        else:
            return redirect(url_for("h5.learn"), 303)
    status = 400 if errors else 200
    return render_template("h5/bind.html", form=form, errors=errors), status


@bp.get("/learn")
@trainee_required
def learn():
    me = followers.profile(db.session, current_openid())
    details = {c.major: c for c in learning.course_details(db.session, g.trainee.id)}
    lines = learning.courses(db.session, g.trainee.id)
    classes = learning.classes(db.session, g.trainee.id)
    return render_template("h5/learn.html", me=me, details=details, lines=lines, classes=classes,
                           exam=exam_state(db.session, g.trainee.id, lines), local_text=local_text)
