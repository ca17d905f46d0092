"""The exports page: an attendance report per class and the fee report per company (xlsx), each
saying how many rows it holds before the download, and why when it would be empty; the provincial
completions file is `wxapp.admin.exam_review.export_completions` (its count: `completions_count`)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from services import ServiceError
from services.admin import classes, exam_review, reports
from services.completion.export import count_completions
from services.school.classes import find_class
from wxapp.admin import bp
from wxapp.admin.helpers import xlsx_response
from wxapp.extensions import db


@bp.route("/exports")
def exports():
    return render_template("admin/exports.html", classes=classes.all_classes(db.session),
                           sizes=reports.sizes(db.session))


@bp.route("/exports/completions/count")
def completions_count():
    """The row count of the completions file for the form's filters (htmx, as they change)."""
    args = request.args
    try:
        wanted = exam_review.export_filter(args.get("from", ""), args.get("to", ""), args.get("major", ""))
    except ServiceError as exc:
        return render_template("admin/_export_count.html", error=exc.message)
    return render_template("admin/_export_count.html", reason=reports.completions_empty_reason(db.session, wanted),
                           count=count_completions(db.session, wanted))


@bp.route("/exports/attendance/<code>.xlsx")
def export_attendance(code: str):
    training_class = find_class(db.session, code)
    if not classes.member_count(db.session, training_class):
        flash(f"班级 {training_class.code} 还没有学员（报名名单的“班级”列填写班级编号后导入即可加入），考勤报表为空，未生成文件",
              "warning")
        return redirect(url_for("admin.exports"))
    return xlsx_response(reports.attendance_xlsx(db.session, training_class), f"考勤报表-{training_class.code}.xlsx")


@bp.route("/exports/fees.xlsx")
def export_fees():
    if not reports.sizes(db.session).fee_lines:
        flash("还没有任何报名记录（请先在“报名名单”导入），费用汇总为空，未生成文件", "warning")
        return redirect(url_for("admin.exports"))
    return xlsx_response(reports.fees_xlsx(db.session), "费用汇总.xlsx")
