"""The provincial export (CONTRACT §8): valid completions as an .xlsx the province's platform takes.

One row per trainee and major, the columns of §8 in order. This is the one file that holds full ID
card numbers: they are decrypted here, written as text cells (a number would lose its last digits and
an X), and the file is written privately (mode 0600) and atomically (a temporary file renamed).
Every text goes through the formula guard (`services.spreadsheet.escape_formula`) and is written with
`write_string`, so a company called "=HYPERLINK(…)" stays inert text, never a formula. XlsxWriter's
constant_memory mode streams rows to disk: memory stays flat with the row count.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import xlsxwriter
from cryptography.exceptions import InvalidTag
from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from models import Completion, Enrollment, Major, Trainee
from services import ServiceError
from services.identity.pii import PiiCipher
from services.school.majors import EXAM_HOURS, MAJOR_NAMES, PROFESSIONAL_HOURS, PUBLIC_HOURS
from services.spreadsheet import escape_formula
from services.timeutil import SHANGHAI

COLUMNS = ("姓名", "身份证号", "手机号", "工作单位", "专业", "类型", "公共课学时", "专业课学时", "考试学时",
           "考试成绩", "完成日期", "证书编号")
WIDTHS = (10, 21, 14, 30, 14, 6, 11, 11, 9, 9, 12, 15)
KIND_TEXT = {"main": "主项", "added": "增项"}
BATCH = 2000  # rows fetched per round trip


class ExportRefused(ServiceError):
    pass


@dataclass(frozen=True)
class ExportFilter:
    date_from: date | None = None  # completion dates in Asia/Shanghai, both ends included
    date_to: date | None = None
    major: str | None = None

    def check(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ExportRefused("起始日期晚于截止日期")
        if self.major is not None and self.major not in MAJOR_NAMES:
            raise ExportRefused(f"没有“{self.major}”这个专业；可选：{'、'.join(MAJOR_NAMES)}")


@dataclass(frozen=True)
class ExportResult:
    rows: int
    path: Path


# name, ID card (encrypted in the query, in clear in the sheet), phone, company, major, enrollment kind,
# score, completed at, certificate number.
ExportRow = tuple[str, str, str, str, str, str, int, datetime, str]


def _shanghai_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), SHANGHAI)


def _query(wanted: ExportFilter) -> Select[*ExportRow]:
    enrollment = and_(Enrollment.trainee_id == Completion.trainee_id, Enrollment.major_id == Completion.major_id)
    stmt = (
        select(Trainee.name, Trainee.id_card_enc, Trainee.phone, Trainee.company, Major.name, Enrollment.kind,
               Completion.score, Completion.completed_at, Completion.number)
        .join(Trainee, Trainee.id == Completion.trainee_id)
        .join(Major, Major.id == Completion.major_id)
        .outerjoin(Enrollment, enrollment)
        .where(Completion.state == "valid")
        .order_by(Completion.completed_at, Completion.id)
    )
    if wanted.date_from:
        stmt = stmt.where(Completion.completed_at >= _shanghai_midnight(wanted.date_from))
    if wanted.date_to:
        stmt = stmt.where(Completion.completed_at < _shanghai_midnight(wanted.date_to + timedelta(days=1)))
    if wanted.major:
        stmt = stmt.where(Major.name == wanted.major)
    return stmt.execution_options(yield_per=BATCH)


class _Sheet:
    """The worksheet with its formats; writes one typed row at a time."""

    def __init__(self, workbook: xlsxwriter.Workbook):
        self.sheet = workbook.add_worksheet("结业名单")
        self.text = workbook.add_format({"num_format": "@"})  # Excel keeps an edited ID card as text
        self.day = workbook.add_format({"num_format": "yyyy-mm-dd"})
        header = workbook.add_format({"bold": True})
        for col, width in enumerate(WIDTHS):
            self.sheet.set_column(col, col, width)
        self.sheet.freeze_panes(1, 0)
        for col, title in enumerate(COLUMNS):
            self.sheet.write_string(0, col, title, header)

    def row(self, r: int, values: ExportRow) -> None:
        name, id_card, phone, company, major, kind, score, completed_at, number = values
        s, text = self.sheet, self.text

        def write_text(col: int, value: str, *style: object) -> None:
            s.write_string(r, col, str(escape_formula(value)), *style)

        write_text(0, name)
        write_text(1, id_card, text)
        write_text(2, phone, text)
        write_text(3, company or "")
        write_text(4, major)
        write_text(5, KIND_TEXT.get(kind or "", ""))
        s.write_number(r, 6, PUBLIC_HOURS)
        s.write_number(r, 7, PROFESSIONAL_HOURS)
        s.write_number(r, 8, EXAM_HOURS)
        s.write_number(r, 9, score)
        s.write_datetime(r, 10, datetime.combine(completed_at.astimezone(SHANGHAI).date(), time(0)), self.day)
        write_text(11, number, text)


def count_completions(session: Session, wanted: ExportFilter = ExportFilter()) -> int:
    """How many rows `export_completions` would write for `wanted` (said before the download)."""
    return session.scalar(select(func.count()).select_from(_query(wanted).order_by(None).subquery())) or 0


def _decrypt(cipher: PiiCipher, token: str, number: str) -> str:
    try:
        return cipher.decrypt(token)
    except (InvalidTag, ValueError):
        raise ExportRefused(f"证书 {number} 的身份证号无法解密：PII_KEY 与导入时不同？文件未写出") from None


def export_completions(session: Session, cipher: PiiCipher, path: str | os.PathLike[str],
                       wanted: ExportFilter = ExportFilter()) -> ExportResult:
    """Writes the valid completions matching `wanted` to `path` (.xlsx); returns how many rows."""
    wanted.check()
    target = Path(path).resolve()
    if not target.parent.is_dir():
        raise ExportRefused(f"目录不存在：{target.parent}")
    handle, temporary = tempfile.mkstemp(prefix=".completions-", suffix=".xlsx", dir=target.parent)  # mode 0600
    os.close(handle)
    try:
        workbook = xlsxwriter.Workbook(temporary, {"constant_memory": True, "strings_to_numbers": False,
                                                   "strings_to_formulas": False, "strings_to_urls": False})
        sheet = _Sheet(workbook)
        rows = 0
        for rows, found in enumerate(session.execute(_query(wanted)), start=1):
            name, token, phone, company, major, kind, score, completed_at, number = found
            sheet.row(rows, (name, _decrypt(cipher, token, number), phone, company, major, kind, score,
                             completed_at, number))
        workbook.close()
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return ExportResult(rows=rows, path=target)
