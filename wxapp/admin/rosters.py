"""Rosters: upload a company's 报名汇总表, preview each row's problem (nothing written), confirm to
import; the blank template; the fee summary per company and major."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from services import ServiceError
from services.admin import rosters
from services.school import uploads
from services.school.fees import mark_fees_paid
from services.timeutil import utcnow
from wxapp.admin import bp
from wxapp.admin.auth import actor
from wxapp.admin.helpers import xlsx_response
from wxapp.extensions import db, pii, redis_client


@bp.route("/rosters", methods=["GET", "POST"])
def rosters_page():
    if request.method == "GET":
        return render_template("admin/rosters.html")
    upload = request.files.get("file")
    filename = (upload.filename or "") if upload else ""
    try:
        token = uploads.keep_upload(redis_client(), upload.read(uploads.MAX_UPLOAD + 1) if upload else b"")
        preview = uploads.preview_roster(db.session, redis_client(), pii(), token)
    except ServiceError as exc:  # the upload form again, with the reason on it
        return render_template("admin/rosters.html", error=exc.message), exc.status
    return render_template("admin/roster_preview.html", preview=preview, report=preview.report, token=token,
                           filename=filename[:80])


@bp.route("/rosters/confirm", methods=["POST"])
def rosters_confirm():
    filename = request.form.get("filename", "")[:80]
    report = uploads.import_roster_upload(db.session, redis_client(), pii(), request.form.get("token", ""), actor(),
                                          filename)
    return render_template("admin/roster_done.html", report=report, filename=filename)


@bp.route("/rosters/template.xlsx")
def rosters_template():
    return xlsx_response(rosters.template_xlsx(), "报名汇总表模板.xlsx")


@bp.route("/rosters/fees")
def rosters_fees():
    company = request.args.get("company", "").strip()[:200]
    lines = rosters.fee_summary(db.session, company)
    return render_template("admin/fees.html", lines=lines, company=company)


@bp.route("/rosters/fees/paid", methods=["POST"])
def rosters_fees_paid():
    company = request.form.get("company", "").strip()[:200]
    paid = request.form.get("paid") == "1"
    count = mark_fees_paid(db.session, company, paid, actor(), utcnow())
    flash(f"{company}：{count} 项报名已标记为{'已缴费' if paid else '未缴费'}", "success")
    return redirect(url_for("admin.rosters_fees"))
