"""The dashboard: trainees enrolled, bound, studying and finished per class and per major,
today's attendance checks and the notices' delivery; every number links to its rows."""
from __future__ import annotations

from flask import render_template, request

from services.admin import figures
from services.admin.notices import outbox_page
from services.timeutil import utcnow
from wxapp.admin import bp
from wxapp.admin.helpers import page_arg
from wxapp.extensions import db

OUTBOX_PAGE = 50


@bp.route("/")
def dashboard():
    now = utcnow()
    return render_template(
        "admin/dashboard.html", totals=figures.totals(db.session), majors=figures.by_major(db.session),
        classes=figures.by_class(db.session), attendance=figures.attendance_today(db.session, now),
        notices=figures.notices(db.session),
    )


@bp.route("/attendance")
def attendance():
    status = request.args.get("status", "")
    status = status if status in ("verified", "expired", "refused") else ""
    rows = figures.attendance_rows(db.session, utcnow(), status)
    return render_template("admin/attendance.html", rows=rows, status=status)


@bp.route("/notices")
def notices():
    state = request.args.get("state", "")
    page = page_arg()
    rows, total = outbox_page(db.session, state, page, OUTBOX_PAGE)
    return render_template("admin/notices.html", rows=rows, total=total, state=state, page=page,
                           page_size=OUTBOX_PAGE)
