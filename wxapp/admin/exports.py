"""The exports page: an attendance report per class and the fee report per company (xlsx); the
provincial completions file is `wxapp.admin.exam_review.export_completions`."""
from __future__ import annotations

from flask import render_template

from services.admin import classes, reports
from services.school.classes import find_class
from wxapp.admin import bp
from wxapp.admin.helpers import xlsx_response
from wxapp.extensions import db


@bp.route("/exports")
def exports():
    return render_template("admin/exports.html", classes=classes.all_classes(db.session))


@bp.route("/exports/attendance/<code>.xlsx")
def export_attendance(code: str):
    training_class = find_class(db.session, code)
    return xlsx_response(reports.attendance_xlsx(db.session, training_class), f"考勤报表-{training_class.code}.xlsx")


@bp.route("/exports/fees.xlsx")
def export_fees():
    return xlsx_response(reports.fees_xlsx(db.session), "费用汇总.xlsx")
