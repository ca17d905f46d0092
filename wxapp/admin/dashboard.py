"""The dashboard: trainees enrolled, bound, studying and finished per class and per major,
today's attendance checks and the notices' delivery; every number links to its rows."""
from __future__ import annotations

from datetime import datetime

from flask import flash, redirect, render_template, request, url_for

from services import keys
from services.admin import activity, at_risk, figures
from services.admin.notices import outbox_page
from services.exam.faces import review as face_review
from services.notices import unknown
from services.notices.notices import NoticeError
from services.timeutil import SHANGHAI, local_text, utcnow
from wxapp.admin import bp
from wxapp.admin.auth import actor
from wxapp.admin.helpers import page_arg
from wxapp.extensions import db, notice_desk, redis_client

OUTBOX_PAGE = 50
RESEND_WAIT_S = 10  # a resend waits this long for its answer; the scheduler sends it otherwise


@bp.after_request
def recount_after_changes(response):
    """A change made in the console shows on the dashboard at once, not a minute later."""
    if request.method == "POST" and response.status_code < 400:
        redis_client().delete(keys.admin_study_figures())
    return response


@bp.route("/")
def dashboard():
    now = utcnow()
    study = figures.cached_study(db.session, redis_client(), now, fresh=request.args.get("fresh") == "1")
    outbox = figures.outbox_watch(db.session, redis_client(), now)
    return render_template(
        "admin/dashboard.html", study=study, counted_at=local_text(datetime.fromisoformat(study.counted_at)),
        attendance=activity.attendance_today(db.session, now), notices=activity.notices(db.session),
        at_risk=at_risk.count(db.session, at_risk.Filters(), now.astimezone(SHANGHAI).date()),
        exam_review_waiting=face_review.waiting_count(db.session),
        outbox=outbox, dispatched_at=local_text(outbox.dispatched_at) if outbox.dispatched_at else None,
        how_long=how_long,
    )


def how_long(seconds: int) -> str:
    """`45 秒`, `12 分钟`, `3 小时`, `2 天`: an age as staff read it."""
    for unit, label in ((86400, "天"), (3600, "小时"), (60, "分钟")):
        if seconds >= unit:
            return f"{seconds // unit} {label}"
    return f"{seconds} 秒"


@bp.route("/attendance")
def attendance():
    status = request.args.get("status", "")
    status = status if status in ("verified", "expired", "refused") else ""
    rows = activity.attendance_rows(db.session, utcnow(), status)
    return render_template("admin/attendance.html", rows=rows, status=status)


@bp.route("/notices")
def notices():
    state = request.args.get("state", "")
    page = page_arg()
    rows, total = outbox_page(db.session, state, page, OUTBOX_PAGE)
    return render_template("admin/notices.html", rows=rows, total=total, state=state, page=page,
                           page_size=OUTBOX_PAGE)


@bp.route("/notices/<int:outbox_id>/resend", methods=["POST"])
def notice_resend(outbox_id: int):
    """重发 of a message of unknown fate, once staff checked it did not arrive (recorded)."""
    try:
        queued = unknown.resend(db.session, outbox_id, actor(), utcnow())
    except NoticeError as exc:
        flash(exc.message, "danger")
        return redirect(url_for("admin.notices", state="unknown"))
    notice_desk().dispatcher().run(notice_id=queued.notice_id, wait=True, max_seconds=RESEND_WAIT_S)
    flash(f"已重发给 {queued.trainee_name}，送达情况见下表", "success")
    if queued.class_code:
        return redirect(url_for("admin.class_page", code=queued.class_code) + "#delivery")
    return redirect(url_for("admin.notices"))
