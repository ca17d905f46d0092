"""Rosters in the staff console, read only: the blank template, and the fee summary per company,
主项/增项 × the notice's fees. Uploads are `services.school.uploads`'s; marking fees paid is
`services.school.fees`'s."""
from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal

import xlsxwriter
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from models import Enrollment, Major, Trainee
from models.trainee import ENROLLMENT_ADDED, ENROLLMENT_MAIN
from services.school.imports.roster import COLUMNS
from services.school.majors import MAJORS


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
