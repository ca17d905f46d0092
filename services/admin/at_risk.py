"""Trainees running out of time (注册即将到期): registration (注册有效期) ending within N days (the
notice's 3 months by default) with hours or the exam still missing, soonest first.

An enrollment is at risk when its registration ends between today and today + N days and its
major's exam has no standing pass (`passed`, not voided): the exam is the last step, so a pass
means nothing is missing. A trainee is listed once, by the earliest such enrollment, with what is
still missing for each (公共课 hours once, each major's 专业课 hours, the exam). The page, the
dashboard's count, the export and the at-risk reminder (`services.notices.reminders`) all select
through `enrollments`, so they agree.
"""
from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import xlsxwriter
from sqlalchemy import ColumnElement, Select, exists, func, select
from sqlalchemy.orm import Session

from models import ClassMember, Course, Enrollment, ExamAttempt, Major, Trainee, TrainingClass, WechatUser
from models.catalog import COURSE_PUBLIC
from services import ServiceError
from services.identity.followers import NOT_UNFOLLOWED
from services.identity.pii import mask_phone
from services.notices.notices import reminded_within_week
from services.school.imports import cells
from services.spreadsheet import escape_formula
from services.study import hours

DEFAULT_DAYS = 90
MAX_DAYS = 3650
PAGE_SIZE = 50  # as the trainee list
CHOSEN_MAX = 50_000  # trainees one reminder may be asked for
HEADER = ["姓名", "手机号", "工作单位", "专业", "注册有效期", "剩余天数", "尚缺", "班级"]


class AtRiskError(ServiceError):
    """A filter that can't be applied (an unknown class)."""


@dataclass(frozen=True)
class Filters:
    days: int = DEFAULT_DAYS
    class_code: str = ""
    major_id: int | None = None
    company: str = ""


@dataclass
class AtRisk:
    trainee_id: int
    name: str
    phone: str  # as stored: mask it before showing
    company: str
    expires: date  # the earliest registration at risk
    days_left: int
    majors: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)


def passed_exam() -> ColumnElement[bool]:
    """SQL: the enrollment's exam has a standing pass."""
    return exists(select(ExamAttempt.id).where(ExamAttempt.enrollment_id == Enrollment.id,
                                               ExamAttempt.passed.is_(True), ExamAttempt.voided_at.is_(None)))


def enrollments(session: Session, filters: Filters, today: date) -> Select[int, int, date | None]:
    """(trainee, major, registration end) of each enrollment at risk under the filters."""
    until = today + timedelta(days=min(max(filters.days, 0), MAX_DAYS))
    stmt = (select(Enrollment.trainee_id, Enrollment.major_id, Enrollment.registration_expires)
            .where(Enrollment.registration_expires.between(today, until), ~passed_exam()))
    if filters.class_code:
        class_id = session.scalar(select(TrainingClass.id).where(TrainingClass.code == filters.class_code))
        if class_id is None:
            raise AtRiskError(f"班级 {filters.class_code} 不存在")
        stmt = stmt.where(Enrollment.trainee_id.in_(select(ClassMember.trainee_id)
                                                    .where(ClassMember.class_id == class_id)))
    if filters.major_id is not None:
        stmt = stmt.where(Enrollment.major_id == filters.major_id)
    company = cells.text(filters.company)
    if company:
        stmt = stmt.where(Enrollment.trainee_id.in_(select(Trainee.id).where(
            Trainee.company.contains(company, autoescape=True))))
    return stmt


def count(session: Session, filters: Filters, today: date) -> int:
    """How many trainees are at risk under the filters."""
    at_risk = enrollments(session, filters, today).subquery()
    return session.scalar(select(func.count(func.distinct(at_risk.c.trainee_id)))) or 0


def page(session: Session, filters: Filters, today: date, number: int,
         size: int = PAGE_SIZE) -> tuple[list[AtRisk], int]:
    """One page of trainees at risk, soonest registration end first, and how many there are."""
    at_risk = enrollments(session, filters, today).subquery()
    soonest = func.min(at_risk.c.registration_expires)
    found = session.execute(select(at_risk.c.trainee_id, func.count().over())  # the count rides along
                            .group_by(at_risk.c.trainee_id).order_by(soonest, at_risk.c.trainee_id)
                            .offset((number - 1) * size).limit(size)).all()
    total = found[0][1] if found else count(session, filters, today)
    return details(session, filters, today, [tid for tid, _ in found]), total


def everyone(session: Session, filters: Filters, today: date) -> list[AtRisk]:
    """Every trainee at risk under the filters (the export), soonest first."""
    return details(session, filters, today, None)


def details(session: Session, filters: Filters, today: date, ids: Sequence[int] | None) -> list[AtRisk]:
    """The rows of these trainees (of every trainee at risk when None), in the order given (else
    soonest first). Every trainee at risk is selected by the query itself, not by a list of ids
    (thousands of parameters cost more than the query); a page's few by their ids."""
    if ids is not None and not ids:
        return []
    stmt = enrollments(session, filters, today)
    at_risk = (stmt.where(Enrollment.trainee_id.in_(ids)) if ids is not None else stmt).subquery()
    who: Select[int] | Sequence[int] = select(at_risk.c.trainee_id) if ids is None else ids
    rows: dict[int, AtRisk] = {}
    pairs: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for tid, name, phone, company, major_id, major, expires in session.execute(
        select(Trainee.id, Trainee.name, Trainee.phone, Trainee.company, Major.id, Major.name,
               at_risk.c.registration_expires)
        .join(at_risk, at_risk.c.trainee_id == Trainee.id).join(Major, Major.id == at_risk.c.major_id)
        .order_by(at_risk.c.registration_expires, Major.position)
    ):
        row = rows.get(tid)
        if row is None:
            row = rows[tid] = AtRisk(tid, name, phone, company, expires, (expires - today).days)
        row.majors.append(major)
        pairs[tid].append((major_id, major))
    _add_missing(session, rows, pairs, who)
    for tid, code in session.execute(select(ClassMember.trainee_id, TrainingClass.code)
                                     .join(TrainingClass, TrainingClass.id == ClassMember.class_id)
                                     .where(ClassMember.trainee_id.in_(who)).order_by(TrainingClass.code)):
        rows[tid].classes.append(code)
    order = ids if ids is not None else sorted(rows, key=lambda tid: (rows[tid].expires, tid))
    return [rows[tid] for tid in order if tid in rows]


@dataclass(frozen=True)
class ReminderPlan:
    """What the at-risk reminder to the chosen trainees would do: whom it reaches (trainee → the
    registration end it names) and by which channel, and whom it leaves out and why."""

    expiring: dict[int, date]
    wechat: int
    sms: int
    recent: int  # reminded within the last 7 days (the weekly job or the console): not again
    not_at_risk: int  # chosen, but no longer at risk under the list's filters

    @property
    def total(self) -> int:
        return self.wechat + self.sms


def reminder_plan(session: Session, filters: Filters, today: date, now: datetime, chosen: Sequence[int],
                  wechat_ready: bool) -> ReminderPlan:
    chosen = sorted(set(chosen))[:CHOSEN_MAX]
    at_risk = enrollments(session, filters, today).where(Enrollment.trainee_id.in_(chosen)).subquery()
    soonest: dict[int, date | None] = {
        tid: day for tid, day in session.execute(select(at_risk.c.trainee_id, func.min(at_risk.c.registration_expires))
                                                 .group_by(at_risk.c.trainee_id))}
    recent = set(session.scalars(_recent(now, list(soonest))))
    expiring = {tid: day for tid, day in soonest.items() if tid not in recent and day is not None}
    follows = set(session.scalars(select(WechatUser.trainee_id).where(WechatUser.trainee_id.in_(list(expiring)),
                                                                       NOT_UNFOLLOWED)))
    wechat = len(follows) if wechat_ready else 0
    return ReminderPlan(expiring, wechat, len(expiring) - wechat, len(recent), len(chosen) - len(soonest))


def _recent(now: datetime, ids: list[int]) -> Select[int]:
    stmt = reminded_within_week(now)
    return stmt.where(stmt.selected_columns[0].in_(ids)).distinct()


def _add_missing(session: Session, rows: dict[int, AtRisk], pairs: dict[int, list[tuple[int, str]]],
                 who: Select[int] | Sequence[int]) -> None:
    """What each trainee still owes: the 公共课's hours (once), each major's 专业课 hours, its exam."""
    courses = session.execute(select(Course.id, Course.kind, Course.major_id, Course.hours_required)).all()
    public = next(((cid, req) for cid, kind, _, req in courses if kind == COURSE_PUBLIC), None)
    by_major = {major_id: (cid, req) for cid, kind, major_id, req in courses if kind != COURSE_PUBLIC}
    earned = hours.earned(session, who)
    for tid, row in rows.items():
        if public is not None:
            _owe(row, "公共课", public[1] - earned.get((tid, public[0]), Decimal(0)))
        for major_id, major in pairs[tid]:
            if major_id in by_major:
                course_id, required = by_major[major_id]
                _owe(row, f"{major}专业课", required - earned.get((tid, course_id), Decimal(0)))
            row.missing.append(f"{major}考试")


def _owe(row: AtRisk, what: str, hours_left: Decimal) -> None:
    if hours_left > 0:
        row.missing.append(f"{what} {hours_left.normalize():f} 学时")


def xlsx(rows: list[AtRisk]) -> bytes:
    """The list for the companies' 经办人: phone masked, every text cell made inert for Excel."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False})
    sheet = book.add_worksheet("注册即将到期")
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    for col, (name, width) in enumerate(zip(HEADER, (10, 14, 30, 16, 12, 8, 40, 14), strict=True)):
        sheet.write_string(0, col, name, bold)
        sheet.set_column(col, col, width)
    for r, row in enumerate(rows, 1):
        texts = [row.name, mask_phone(row.phone), row.company, "、".join(row.majors), row.expires.isoformat()]
        for c, value in enumerate(texts):
            sheet.write_string(r, c, str(escape_formula(value)))
        sheet.write_number(r, 5, row.days_left)
        sheet.write_string(r, 6, str(escape_formula("；".join(row.missing))))
        sheet.write_string(r, 7, str(escape_formula("、".join(row.classes))))
    sheet.freeze_panes(1, 0)
    book.close()
    return out.getvalue()
