"""Trainees in the staff console: search (name, phone, company, or an ID card number through its
keyed hash), the filters the dashboard's numbers link to, a trainee's page, and recorded edits.

Searching reads one page: a count and a LIMIT/OFFSET query, whatever the number of trainees.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import redis as redis_lib
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
from services.identity import audit
from services.identity.pii import (
    InvalidPhone,
    PiiCipher,
    mask_id_card,
    mask_phone,
    normalize_id_card,
    normalize_phone,
)
from services.school.imports import cells
from services.school.imports.roster import COMPANY_MAX

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


def edit(session: Session, trainee: Trainee, phone: str, company: str, actor: str) -> list[str]:
    """Changes phone and company; returns the changes in words (masked), recorded in the audit log."""
    try:
        phone = normalize_phone(phone)
    except InvalidPhone as exc:
        raise TraineeError(exc.message) from None
    company = cells.text(company)
    if len(company) > COMPANY_MAX:
        raise TraineeError(f"工作单位超过{COMPANY_MAX}个字")
    changes = []
    if phone != trainee.phone:
        changes.append(f"手机号：{mask_phone(trainee.phone)} → {mask_phone(phone)}")
    if company != trainee.company:
        changes.append(f"工作单位：{trainee.company or '（空）'} → {company or '（空）'}")
    if changes:
        trainee.phone, trainee.company = phone, company
        audit.record(session, actor, "trainee_edited", f"trainee:{trainee.id}", f"{trainee.name}：" + "；".join(changes))
        session.commit()
    return changes


def reveal_id_card(session: Session, cipher: PiiCipher, trainee: Trainee, actor: str) -> str:
    """The full ID card number, for an admin; the reveal is recorded before it is returned."""
    audit.record(session, actor, "id_card_revealed", f"trainee:{trainee.id}",
                 f"查看了 {trainee.name}（{trainee.id_card_mask}）的完整身份证号")
    session.commit()
    return cipher.decrypt(trainee.id_card_enc)


def unbind(session: Session, redis: redis_lib.Redis, cipher: PiiCipher, trainee: Trainee, actor: str, reason: str) -> bool:
    """Staff unbinds the trainee's WeChat (the same service as `trainee unbind`), recorded."""
    from services.identity import binding

    if not reason.strip():
        raise TraineeError("请填写解绑原因")
    id_card = cipher.decrypt(trainee.id_card_enc)  # find_trainee takes what staff would type
    try:
        _, stopped = binding.unbind(session, redis, cipher, id_card, actor, reason)
    except binding.UnbindError as exc:
        raise TraineeError(exc.message) from None
    audit.record(session, actor, "trainee_unbound", f"trainee:{trainee.id}",
                 f"{trainee.name}（{mask_id_card(id_card)}）：{reason.strip()[:200]}")
    session.commit()
    return stopped
