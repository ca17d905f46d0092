"""Trainees: search (name, phone, company, ID card by its hash), paginated on the server; a
trainee's page (enrollments, binding with unbind, lessons, attendance, exercises, notices, exam
attempts and certificates, whose actions live in `wxapp.admin.exam_review`),
recorded edits of phone and company, and an admin's recorded reveal of the full ID card."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from models import Major, Trainee
from services import ServiceError
from services.admin import locks, trainees
from services.completion import certificates
from services.exam import staff as exam_staff
from services.identity import binding
from services.school import trainees as school_trainees
from services.study import learning, segments, study_records
from services.timeutil import utcnow
from wxapp.admin import bp
from wxapp.admin.auth import actor, admin_required
from wxapp.admin.helpers import page_arg
from wxapp.extensions import db, exam_tools, page_closer, pii, redis_client
from wxapp.request_guard import number_arg


def _filters() -> trainees.Filters:
    args = request.values
    major = args.get("major", "")
    state = args.get("state", "")
    return trainees.Filters(q=args.get("q", "")[:64], class_code=args.get("class", "")[:32],
                            major_id=number_arg(major),
                            state=state if state in trainees.STATES else "")


@bp.route("/trainees", methods=["GET", "POST"])
def trainees_page():
    """GET for links (filters, names); the search form POSTs, so that a phone or ID card number
    typed in it never lands in a URL, a browser's history or an access log."""
    filters, page = _filters(), page_arg()
    try:
        rows, total = trainees.search(db.session, pii(), filters, page)
        error = None
    except ServiceError as exc:
        rows, total, error = [], 0, exc.message
    if request.method == "POST" and total == 1 and trainees.is_number(filters.q):
        target = url_for("admin.trainee_page", trainee_id=rows[0].id)
        return ("", 204, {"HX-Redirect": target}) if request.headers.get("HX-Request") else redirect(target)
    major = db.session.get(Major, filters.major_id) if filters.major_id else None
    template = "admin/_trainee_rows.html" if request.headers.get("HX-Request") else "admin/trainees.html"
    return render_template(template, rows=rows, total=total, page=page, filters=filters, error=error,
                           major=major, page_size=trainees.PAGE_SIZE)


def _trainee_or_404(trainee_id: int) -> Trainee:
    trainee = db.session.get(Trainee, trainee_id)
    if trainee is None:
        abort(404)
    return trainee


@bp.route("/trainees/<int:trainee_id>")
def trainee_page(trainee_id: int):
    trainee = _trainee_or_404(trainee_id)
    records = study_records.lesson_records(db.session, trainee.id)
    return render_template(
        "admin/trainee.html", trainee=trainee, courses=learning.courses(db.session, trainee.id),
        classes=learning.classes(db.session, trainee.id), wechat=trainees.binding_of(db.session, trainee.id),
        history=binding.history(db.session, trainee.id), records=records,
        locked=locks.locked_wechats(db.session, redis_client(), trainee.id), describe=segments.describe,
        checks=trainees.attendance(db.session, trainee.id, utcnow()),
        notices=trainees.notices_of(db.session, trainee.id),
        attempts=exam_staff.attempts_of(exam_tools(), trainee.id),
        certificates=certificates.certificates_of(db.session, trainee.id),
    )


@bp.route("/trainees/<int:trainee_id>/edit", methods=["POST"])
def trainee_edit(trainee_id: int):
    # The phone field starts empty (the page shows it masked): empty keeps the number.
    changes = school_trainees.edit_contact(db.session, trainee_id, request.form.get("phone", ""),
                                           request.form.get("company", ""), actor())
    flash("已保存：" + "；".join(changes) if changes else "内容未变", "success")
    return redirect(url_for("admin.trainee_page", trainee_id=trainee_id))


@bp.route("/trainees/<int:trainee_id>/unbind", methods=["POST"])
def trainee_unbind(trainee_id: int):
    done = binding.unbind(db.session, trainee_id, actor(), request.form.get("reason", ""), page_closer())
    flash("已解绑微信，学员可重新认证登录" + ("；原微信中打开的播放页面已停止" if done.page_stopped else ""), "success")
    return redirect(url_for("admin.trainee_page", trainee_id=trainee_id) + "#binding")


@bp.route("/trainees/<int:trainee_id>/reveal", methods=["POST"])
@admin_required
def trainee_reveal(trainee_id: int):
    revealed = school_trainees.reveal_id_card(db.session, pii(), trainee_id, actor())
    if request.headers.get("HX-Request"):
        return render_template("admin/_id_card.html", full=revealed.id_card)
    return render_template("admin/reveal.html", trainee=revealed.trainee, full=revealed.id_card,
                           admin=current_user.is_admin)
