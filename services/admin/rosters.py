"""Roster uploads in the staff console: preview first (a dry run that writes nothing), import on
confirmation; the blank template; the fee summary per company, 主项/增项 × the notice's fees.

An upload waiting for confirmation is kept in Redis under a random token for `UPLOAD_TTL_S`, not
on one web host's disk: the confirmation may reach another gunicorn host. The token is all a
page or URL carries; the file's personal data never appears in one.
"""
from __future__ import annotations

import io
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

import redis as redis_lib
import xlsxwriter
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from models import Enrollment, Major, Trainee, TrainingClass
from models.trainee import ENROLLMENT_ADDED, ENROLLMENT_MAIN
from services import ServiceError, keys
from services.completion.certificates import mask_name
from services.db import affected
from services.identity import audit
from services.identity.pii import PiiCipher
from services.school.imports import ImportReport, cells, import_roster
from services.school.imports.roster import COLUMNS
from services.school.imports.sheet import SheetRow, read_sheet
from services.school.majors import MAJORS

UPLOAD_TTL_S = 30 * 60
MAX_UPLOAD = 10 * 1024 * 1024
XLSX_MAGIC = b"PK\x03\x04"
Report = TypeVar("Report")


class UploadError(ServiceError):
    pass


def keep_upload(redis: redis_lib.Redis, data: bytes, what: str = "报名汇总表") -> str:
    """Stores an uploaded workbook until confirmation; returns its token."""
    if not data:
        raise UploadError(f"请选择要上传的{what}（.xlsx 文件）")
    if len(data) > MAX_UPLOAD:
        raise UploadError(f"文件超过 {MAX_UPLOAD // 1024 // 1024} MB")
    if not data.startswith(XLSX_MAGIC):
        raise UploadError("文件不是 Excel .xlsx 格式：请在 Excel 中“另存为” .xlsx 后再上传")
    token = secrets.token_urlsafe(18)
    redis.set(keys.admin_upload(token), data, ex=UPLOAD_TTL_S)
    return token


def _with_upload(redis: redis_lib.Redis, token: str, use: Callable[[str], Report]) -> Report:
    """Runs `use` on the kept upload, written to a temporary file for the import to read."""
    data = redis.get(keys.admin_upload(token)) if token and len(token) < 64 else None
    if not isinstance(data, bytes):
        raise UploadError("上传的文件已过期或不存在，请重新上传")
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as tmp:
        tmp.write(data)
        tmp.flush()
        return use(tmp.name)


@dataclass(frozen=True)
class PreviewRow:
    """One row of the upload as the preview names it (the name masked as on every console list)."""

    number: int
    outcome: str  # created, updated or rejected
    name: str
    company: str
    major: str
    reason: str = ""


@dataclass(frozen=True)
class MissingClass:
    code: str
    major: str  # of the first row naming it: the major the class would most likely have
    rows: int


@dataclass(frozen=True)
class RosterPreview:
    report: ImportReport
    rows: dict[str, list[PreviewRow]]  # per outcome, in file order, at most MAX_LISTED each
    missing_classes: list[MissingClass]

    def more(self, outcome: str) -> int:
        """How many rows of `outcome` the lists leave out."""
        total = len(self.report.rejected) if outcome == "rejected" else getattr(self.report, outcome)
        return total - len(self.rows[outcome])


MAX_LISTED = 500


def preview(session: Session, redis: redis_lib.Redis, cipher: PiiCipher, token: str) -> RosterPreview:
    """What importing the upload would do, row by row: each row to be added, updated or rejected
    (why), and the class codes it names that don't exist yet; writes nothing."""
    def run(path: str) -> RosterPreview:
        report = import_roster(session, cipher, path, dry_run=True)
        return _named(session, report, read_sheet(path, COLUMNS))

    return _with_upload(redis, token, run)


def _named(session: Session, report: ImportReport, sheet: list[SheetRow]) -> RosterPreview:
    reasons = dict(report.rejected)
    rows: dict[str, list[PreviewRow]] = {"created": [], "updated": [], "rejected": []}
    existing = {code.upper() for code in session.scalars(select(TrainingClass.code))}
    missing: dict[str, MissingClass] = {}
    for row in sheet:
        major, code = cells.compact(row["专业"]), cells.compact(row["班级"])
        if code and code.upper() not in existing:
            seen = missing.get(code.upper())
            missing[code.upper()] = MissingClass(code, major, 1) if seen is None else \
                MissingClass(seen.code, seen.major, seen.rows + 1)
        outcome = "rejected" if row.number in reasons else report.outcomes.get(row.number, "")
        if outcome in rows and len(rows[outcome]) < MAX_LISTED:
            rows[outcome].append(PreviewRow(row.number, outcome, mask_name(cells.person_name(row["姓名"])),
                                            cells.text(row["工作单位"]), major, reasons.get(row.number, "")))
    rows["rejected"].sort(key=lambda r: r.number)
    return RosterPreview(report, rows, list(missing.values()))


def confirm(session: Session, redis: redis_lib.Redis, cipher: PiiCipher, token: str, actor: str,
            filename: str) -> ImportReport:
    """Imports the upload, records it in the audit log, and forgets the file."""
    report = _with_upload(redis, token, lambda path: import_roster(session, cipher, path))
    redis.delete(keys.admin_upload(token))
    audit.record(session, actor, "roster_imported", f"file:{filename[:80]}",
                 f"新增 {report.created}，更新 {report.updated}，未变 {report.unchanged}，拒绝 {len(report.rejected)}")
    session.commit()
    return report


def template_xlsx() -> bytes:
    """A blank 报名汇总表 with the columns of CONTRACT §6; ID card and phone columns are text."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("报名汇总表")
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    text = book.add_format({"num_format": "@"})
    for col, name in enumerate(COLUMNS):
        sheet.write_string(0, col, name, bold)
        sheet.set_column(col, col, 22 if name in ("身份证号", "工作单位") else 14, text)
    sheet.data_validation(1, 4, 5000, 4, {"validate": "list", "source": [m.name for m in MAJORS]})
    sheet.data_validation(1, 5, 5000, 5, {"validate": "list", "source": ["主项", "增项"]})
    sheet.freeze_panes(1, 0)
    book.close()
    return out.getvalue()


@dataclass(frozen=True)
class FeeLine:
    company: str
    major: str
    main_count: int
    added_count: int
    main_fee: Decimal
    added_fee: Decimal
    paid_count: int
    paid_fee: Decimal

    @property
    def total(self) -> Decimal:
        return self.main_fee + self.added_fee

    @property
    def unpaid_fee(self) -> Decimal:
        return self.total - self.paid_fee


def fee_summary(session: Session, company: str = "") -> list[FeeLine]:
    """Per company and major: how many 主项 and 增项 enrollments and what they cost (the fee
    each enrollment was charged at import, from the notice)."""
    def of(kind: str) -> tuple[ColumnElement[int], ColumnElement[Decimal]]:
        return (func.count().filter(Enrollment.kind == kind),
                func.coalesce(func.sum(Enrollment.fee).filter(Enrollment.kind == kind), 0))

    paid = Enrollment.paid_at.is_not(None)
    stmt = (select(Trainee.company, Major.name, *of(ENROLLMENT_MAIN), *of(ENROLLMENT_ADDED),
                   func.count().filter(paid), func.coalesce(func.sum(Enrollment.fee).filter(paid), 0))
            .join(Enrollment, Enrollment.trainee_id == Trainee.id).join(Major, Major.id == Enrollment.major_id)
            .group_by(Trainee.company, Major.name, Major.position).order_by(Trainee.company, Major.position))
    if company:
        stmt = stmt.where(Trainee.company == company)
    return [FeeLine(c or "（未填写单位）", m, int(a or 0), int(b or 0), Decimal(fa), Decimal(fb), int(p or 0), Decimal(fp))
            for c, m, a, fa, b, fb, p, fp in session.execute(stmt)]


def mark_paid(session: Session, company: str, paid: bool, actor: str, now: datetime) -> int:
    """Marks every enrollment of a company's trainees paid (or not paid again); returns how many
    changed. Recorded in the audit log."""
    of_company = select(Trainee.id).where(Trainee.company == company)
    changing = Enrollment.paid_at.is_(None) if paid else Enrollment.paid_at.is_not(None)
    count = affected(session, update(Enrollment).where(Enrollment.trainee_id.in_(of_company), changing)
                     .values(paid_at=now if paid else None).execution_options(synchronize_session=False))
    audit.record(session, actor, "fees_marked_paid" if paid else "fees_marked_unpaid", f"company:{company[:90]}",
                 f"{company}：{count} 项报名标记为{'已缴费' if paid else '未缴费'}")
    session.commit()
    return count
