"""The xlsx reports of the exports page: attendance per class and fees per company and major.

Written with XlsxWriter with `strings_to_formulas` off, every text cell through the formula guard
(`services.spreadsheet.escape_formula`) and by `write_string`: a company or a name typed as
`=HYPERLINK(…)` stays inert text in the file staff open in Excel or WPS.
"""
from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass

import xlsxwriter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import AttendanceCheck, AttendanceRefusal, ClassMember, Completion, TrainingClass
from services.admin import classes as class_service
from services.admin.rosters import fee_summary
from services.completion.export import ExportFilter, ExportRefused, count_completions
from services.identity.pii import mask_phone
from services.spreadsheet import escape_formula
from services.study.learning import hours_text
from services.timeutil import utcnow


@dataclass(frozen=True)
class Sizes:
    """How many rows each file of the exports page holds, said before the download."""

    completions: int
    fee_lines: int


def sizes(session: Session) -> Sizes:
    return Sizes(count_completions(session), len(fee_summary(session)))


def completions_empty_reason(session: Session, wanted: ExportFilter) -> str | None:
    """Why the completions file for `wanted` would be empty (or can't be made), in words; None
    when it has rows."""
    try:
        wanted.check()
    except ExportRefused as exc:
        return exc.message
    if count_completions(session, wanted):
        return None
    if not session.scalar(select(Completion.id).limit(1)):
        return "结业名单为空：还没有学员考试合格（合格后才有结业记录），未生成文件"
    if not count_completions(session):
        return "结业名单为空：已有的结业记录都已作废（取消考试成绩），未生成文件"
    parts = [f"完成日期从 {wanted.date_from}" if wanted.date_from else "",
             f"到 {wanted.date_to}" if wanted.date_to else "", f"{wanted.major}专业" if wanted.major else ""]
    return (f"所选条件（{' '.join(p for p in parts if p)}）下没有结业记录，未生成文件；"
            f"不限条件共有 {count_completions(session)} 条")


def _book(out: io.BytesIO) -> xlsxwriter.Workbook:
    return xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False})


def _table(book: xlsxwriter.Workbook, title: str, header: list[str], rows: list[list[object]]) -> None:
    sheet = book.add_worksheet(title[:31])
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    for col, name in enumerate(header):
        sheet.write_string(0, col, name, bold)
        sheet.set_column(col, col, max(10, min(40, len(name) * 3)))
    for r, row in enumerate(rows, 1):
        for c, value in enumerate(row):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, str(escape_formula(str(value))))
    sheet.freeze_panes(1, 0)


def attendance_xlsx(session: Session, training_class: TrainingClass) -> bytes:
    """One row per member: hours, and attendance checks issued / passed / expired / refused scans."""
    members = class_service.members(session, training_class)
    now = utcnow()
    counts: dict[int, Counter[str]] = {m.trainee_id: Counter() for m in members}
    rows = session.execute(
        select(AttendanceCheck.trainee_id, AttendanceCheck.status, AttendanceCheck.expires_at,
               func.count(AttendanceRefusal.id))
        .join(ClassMember, ClassMember.trainee_id == AttendanceCheck.trainee_id)
        .outerjoin(AttendanceRefusal, AttendanceRefusal.check_id == AttendanceCheck.id)
        .where(ClassMember.class_id == training_class.id).group_by(AttendanceCheck.id))
    for trainee_id, status, expires, refused in rows:
        status = "expired" if status == "pending" and expires < now else status
        counts[trainee_id].update({"issued": 1, status: 1, "refused": refused})
    out = io.BytesIO()
    book = _book(out)
    _table(book, f"{training_class.code} 考勤", [
        "姓名", "手机号", "工作单位", "微信", "公共课学时", "专业课学时", "考勤发起", "考勤通过", "考勤超时", "他人扫码被拒",
    ], [[m.name, mask_phone(m.phone), m.company, "已绑定" if m.bound else "未绑定",
         f"{hours_text(m.public_earned)}/{hours_text(m.public_required)}",
         f"{hours_text(m.major_earned)}/{hours_text(m.major_required)}",
         counts[m.trainee_id]["issued"], counts[m.trainee_id]["verified"], counts[m.trainee_id]["expired"],
         counts[m.trainee_id]["refused"]] for m in members])
    book.close()
    return out.getvalue()


def fees_xlsx(session: Session) -> bytes:
    """Per company and major: 主项 / 增项 counts and fees, the total, what is paid and what is not."""
    out = io.BytesIO()
    book = _book(out)
    lines = fee_summary(session)
    _table(book, "费用汇总", ["工作单位", "专业", "主项人数", "主项费用(元)", "增项人数", "增项费用(元)", "合计(元)",
                          "已缴(元)", "未缴(元)"],
           [[f.company, f.major, f.main_count, float(f.main_fee), f.added_count, float(f.added_fee), float(f.total),
             float(f.paid_fee), float(f.unpaid_fee)] for f in lines])
    book.close()
    return out.getvalue()


