"""注册即将到期: trainees whose registration ends within N days with hours or the exam missing
(`services.admin.at_risk`), filterable by class, major and company, exported as xlsx for the
companies' 经办人, and the registration-expiry reminder to the trainees staff tick: a first POST
shows how many get WeChat and how many SMS (and who was reminded this week and is left out), a
second with confirm=1 sends (at most once a week per trainee, as the weekly job)."""
from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from models import Major
from models.notices import NOTICE_REGISTRATION_EXPIRY
from services import ServiceError
from services.admin import at_risk
from services.timeutil import SHANGHAI, utcnow
from wxapp.admin import bp
from wxapp.admin.auth import actor
from wxapp.admin.classes import SEND_WAIT_S
from wxapp.admin.helpers import page_arg, xlsx_response
from wxapp.extensions import db, notice_desk


def _filters() -> at_risk.Filters:
    args = request.values
    days, major = args.get("days", ""), args.get("major", "")
    return at_risk.Filters(days=min(int(days), at_risk.MAX_DAYS) if days.isdigit() else at_risk.DEFAULT_DAYS,
                           class_code=args.get("class", "").strip()[:32],
                           major_id=int(major) if major.isdigit() else None, company=args.get("company", "")[:64])


def _today():
    return utcnow().astimezone(SHANGHAI).date()


@bp.route("/at-risk")
def at_risk_page():
    filters, page = _filters(), page_arg()
    try:
        rows, total = at_risk.page(db.session, filters, _today(), page)
        error = None
    except ServiceError as exc:
        rows, total, error = [], 0, exc.message
    majors = db.session.scalars(select(Major).order_by(Major.position)).all()
    return render_template("admin/at_risk.html", rows=rows, total=total, page=page, filters=filters, error=error,
                           majors=majors, page_size=at_risk.PAGE_SIZE)


@bp.route("/at-risk.xlsx")
def at_risk_export():
    try:
        rows = at_risk.everyone(db.session, _filters(), _today())
    except ServiceError as exc:
        flash(exc.message, "danger")
        return redirect(url_for("admin.at_risk_page"))
    return xlsx_response(at_risk.xlsx(rows), f"注册即将到期学员-{_today():%Y%m%d}.xlsx")


@bp.route("/at-risk/remind", methods=["POST"])
def at_risk_remind():
    filters = _filters()
    chosen = [int(v) for v in request.form.getlist("trainee_id") if v.isdigit()]
    query: dict[str, Any] = {"days": filters.days, "major": filters.major_id or "", "company": filters.company,
                                "class": filters.class_code}
    back = url_for("admin.at_risk_page", **query)
    if not chosen:
        flash("请先勾选要提醒的学员", "warning")
        return redirect(back)
    desk = notice_desk()
    wechat_ready = bool(desk.templates[NOTICE_REGISTRATION_EXPIRY].wechat.template_id)
    try:
        plan = at_risk.reminder_plan(db.session, filters, _today(), utcnow(), chosen, wechat_ready)
    except ServiceError as exc:
        flash(exc.message, "danger")
        return redirect(back)
    if request.form.get("confirm") != "1":
        major = db.session.get(Major, filters.major_id) if filters.major_id else None
        return render_template("admin/at_risk_confirm.html", plan=plan, chosen=chosen, filters=filters, major=major,
                               wechat_ready=wechat_ready, sms_backend=desk.sms.name, back=back)
    notice = desk.at_risk_reminder(plan.expiring, actor())
    if notice is None:
        flash("所选学员本周都已提醒过（每人每周最多一次），没有发送", "info")
        return redirect(back)
    desk.dispatcher().run(notice_id=notice.id, wait=True, max_seconds=SEND_WAIT_S)
    flash(f"注册到期提醒已发出：学员 {notice.recipients} 人", "success")
    return redirect(back)
