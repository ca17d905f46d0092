"""Trainees in the staff console, read only: search (name, phone, company, or an ID card number
through its keyed hash), the filters the dashboard's numbers link to, and a trainee's page. Staff's
changes are the capabilities' actions (`services.school.trainees`, `services.identity.binding`).

Searching reads one page: a count and a LIMIT/OFFSET query, whatever the number of trainees.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from models import (
    AttendanceCheck,
    AttendanceRefusal,
    ClassMember,
    Lesson,
    Notice,
    OutboxMessage,
    Trainee,
    TrainingClass,
    WechatUser,
)
from services import ServiceError
from services.admin import figures
from services.identity.pii import (
    InvalidPhone,
    PiiCipher,
    normalize_id_card,
    normalize_phone,
)
from services.school.imports import cells

PAGE_SIZE = 50
STATES = ("bound", "unbound", "studying", "finished", "passed")


class TraineeError(ServiceError):
    pass


@dataclass(frozen=True)
class Filters:
    q: str = ""
    class_code: str = ""
    major_id: int | None = None
    state: str = ""


@dataclass(frozen=True)
class Found:
    id: int
    name: str
    phone: str  # as stored: masked by the page
    company: str
    id_card_mask: str
    bound: bool


def search(session: Session, cipher: PiiCipher, filters: Filters, page: int) -> tuple[list[Found], int]:
    """One page of the trainees matching the filters, by name, and how many match in all."""
    where = _conditions(session, cipher, filters)
    total = session.scalar(select(func.count()).select_from(Trainee).where(*where)) or 0
    rows = session.execute(
        select(Trainee.id, Trainee.name, Trainee.phone, Trainee.company, Trainee.id_card_mask,
               WechatUser.id.is_not(None))
        .outerjoin(WechatUser, WechatUser.trainee_id == Trainee.id)
        .where(*where).order_by(Trainee.name, Trainee.id).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    return [Found(*row) for row in rows], total


def _conditions(session: Session, cipher: PiiCipher, filters: Filters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    q = cells.text(filters.q)
    if q:
        where.append(_query(cipher, q))
    major_id = filters.major_id
    if filters.class_code:
        training_class = session.scalar(select(TrainingClass).where(TrainingClass.code == filters.class_code))
        if training_class is None:
            raise TraineeError(f"班级 {filters.class_code} 不存在")
        where.append(Trainee.id.in_(select(ClassMember.trainee_id).where(ClassMember.class_id == training_class.id)))
        major_id = training_class.major_id
    elif major_id is not None:
        where.append(Trainee.id.in_(figures.enrolled(major_id)))
    if filters.state:
        where.append(_state(filters.state, major_id))
    return where


def is_number(q: str) -> bool:
    """Whether a search is by phone or ID card number (personal data: kept out of URLs)."""
    return bool(re.fullmatch(r"[\d\s+-]{3,}[\dXx]?", cells.text(q)))


def _query(cipher: PiiCipher, q: str) -> ColumnElement[bool]:
    """An ID card finds by its hash (never by the number itself); digits by phone; else by name or company."""
    id_card = normalize_id_card(q)
    if re.fullmatch(r"\d{17}[\dX]", id_card):
        return Trainee.id_card_hash == cipher.lookup_hash(id_card)
    if re.fullmatch(r"[\d\s+-]{3,}", q):
        try:
            return Trainee.phone == normalize_phone(q)
        except InvalidPhone:
            return Trainee.phone.startswith(re.sub(r"\D", "", q), autoescape=True)
    return or_(Trainee.name.contains(q, autoescape=True), Trainee.company.contains(q, autoescape=True))


def _state(state: str, major_id: int | None) -> ColumnElement[bool]:
    if state == "bound":
        return Trainee.id.in_(figures.bound())
    if state == "unbound":
        return Trainee.id.not_in(figures.bound())
    if state == "studying":
        return Trainee.id.in_(figures.studying())
    if state == "finished":
        return Trainee.id.in_(figures.finished(major_id))
    if state == "passed":
        return Trainee.id.in_(figures.passed(major_id))
    raise TraineeError("未知的筛选条件")


def binding_of(session: Session, trainee_id: int) -> WechatUser | None:
    return session.scalar(select(WechatUser).where(WechatUser.trainee_id == trainee_id))


@dataclass(frozen=True)
class CheckRow:
    issued_at: datetime
    lesson: str
    status: str  # pending, verified, expired
    refused: int


def attendance(session: Session, trainee_id: int, now: datetime, limit: int = 50) -> list[CheckRow]:
    """The trainee's latest attendance checks, newest first, with the scans refused."""
    rows = session.execute(
        select(AttendanceCheck.issued_at, Lesson.title, AttendanceCheck.status, AttendanceCheck.expires_at,
               func.count(AttendanceRefusal.id))
        .outerjoin(Lesson, Lesson.id == AttendanceCheck.lesson_id)
        .outerjoin(AttendanceRefusal, AttendanceRefusal.check_id == AttendanceCheck.id)
        .where(AttendanceCheck.trainee_id == trainee_id)
        .group_by(AttendanceCheck.id, Lesson.title).order_by(AttendanceCheck.issued_at.desc()).limit(limit)
    ).all()
    return [CheckRow(issued, title or "（课时已删除）",
                     "expired" if status == "pending" and expires < now else status, refused)
            for issued, title, status, expires, refused in rows]


def notices_of(session: Session, trainee_id: int) -> list[tuple[Notice, OutboxMessage]]:
    rows = session.execute(
        select(Notice, OutboxMessage).join(OutboxMessage, OutboxMessage.notice_id == Notice.id)
        .where(OutboxMessage.trainee_id == trainee_id).order_by(OutboxMessage.id.desc()).limit(50))
    return [(notice, message) for notice, message in rows]
