"""Classes in the staff console: the list with member counts, editing name, time and place,
members (add, remove) with their hours, and the class-open notice's preview and delivery.

A moved class needs nothing rescheduled: the scheduler's reminders are keyed by the start time
(`services.notices.notices.class_reminders`), so the new time gets its own reminder. What a move
must undo is a reminder already written for the old time and not sent yet: those rows are dropped.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, delete, func, select
from sqlalchemy.orm import Session

from models import (
    ClassMember,
    Course,
    Enrollment,
    Notice,
    OutboxMessage,
    Trainee,
    TrainingClass,
    WechatUser,
)
from models.catalog import COURSE_PUBLIC
from models.notices import NOTICE_CLASS_OPEN, NOTICE_CLASS_REMINDER, PENDING, SENDING
from services import ServiceError
from services.db import affected
from services.identity import audit
from services.identity.binding import UnbindError, find_trainee
from services.identity.followers import NOT_UNFOLLOWED
from services.identity.pii import PiiCipher, mask_phone
from services.school.classes import START_FORMAT, _check_lengths, local_start, parse_local_start
from services.school.imports import cells
from services.school.majors import PROFESSIONAL_HOURS, PUBLIC_HOURS
from services.study import hours
from services.timeutil import SHANGHAI


class MemberError(ServiceError):
    pass


@dataclass(frozen=True)
class ClassRow:
    training_class: TrainingClass
    major: str
    members: int
    bound: int


def all_classes(session: Session) -> list[ClassRow]:
    """Every class, newest start first, with its member and bound counts (one query)."""
    members = func.count(ClassMember.id)
    bound = func.count(WechatUser.id)
    rows = session.execute(
        select(TrainingClass, members, bound)
        .outerjoin(ClassMember, ClassMember.class_id == TrainingClass.id)
        .outerjoin(WechatUser, WechatUser.trainee_id == ClassMember.trainee_id)
        .group_by(TrainingClass.id).order_by(TrainingClass.starts_at.desc())
    ).all()
    return [ClassRow(k, k.major.name, m, b) for k, m, b in rows]


def get(session: Session, code: str) -> TrainingClass | None:
    return session.scalar(select(TrainingClass).where(func.upper(TrainingClass.code) == cells.compact(code).upper()))


def update(session: Session, training_class: TrainingClass, name: str, starts_local: str, place: str, actor: str) -> list[str]:
    """Changes name, start time and place; returns the changes in words (empty: nothing changed)."""
    name, place = cells.text(name), cells.text(place)
    _check_lengths(training_class.code, name, place)
    starts_at = parse_local_start(starts_local)
    changes = [f"{label}：{old} → {new}" for label, old, new in (
        ("名称", training_class.name, name), ("开班时间", local_start(training_class), local_start_of(starts_at)),
        ("地点", training_class.place, place)) if old != new]
    if not changes:
        return []
    moved = starts_at != training_class.starts_at
    training_class.name, training_class.starts_at, training_class.place = name, starts_at, place
    dropped = _drop_unsent_reminders(session, training_class.id) if moved else 0
    detail = "；".join(changes) + (f"；撤下旧时间的未发提醒 {dropped} 条" if dropped else "")
    audit.record(session, actor, "class_updated", f"class:{training_class.code}", detail)
    session.commit()
    return changes


def local_start_of(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime(START_FORMAT)


def _drop_unsent_reminders(session: Session, class_id: int) -> int:
    """Reminder rows of this class not yet tried: they name the old time. A row being sent or
    already sent stays (it is the record of what the trainee got)."""
    reminders = select(Notice.id).where(Notice.class_id == class_id, Notice.kind == NOTICE_CLASS_REMINDER)
    return affected(session, delete(OutboxMessage).where(
        OutboxMessage.notice_id.in_(reminders), OutboxMessage.state == PENDING, OutboxMessage.attempts == 0,
    ).execution_options(synchronize_session=False))


def create_audit(session: Session, training_class: TrainingClass, actor: str) -> None:
    audit.record(session, actor, "class_created", f"class:{training_class.code}",
                 f"{training_class.major.name}，{training_class.name}，{local_start(training_class)}，{training_class.place}")
    session.commit()


def add_member(session: Session, cipher: PiiCipher, training_class: TrainingClass, phone_or_id: str, actor: str) -> str:
    """Puts a trainee enrolled in the class's major into it (out of another class of that major,
    as a roster import would); returns what happened in words."""
    try:
        trainee = find_trainee(session, cipher, phone_or_id)
    except UnbindError as exc:
        raise MemberError(exc.message) from None
    if session.scalar(select(Enrollment.id).where(Enrollment.trainee_id == trainee.id,
                                                  Enrollment.major_id == training_class.major_id)) is None:
        raise MemberError(f"{trainee.name} 未报名{training_class.major.name}专业，不能加入本班")
    if session.scalar(select(ClassMember.id).where(ClassMember.class_id == training_class.id,
                                                   ClassMember.trainee_id == trainee.id)) is not None:
        raise MemberError(f"{trainee.name} 已在本班")
    others = session.scalars(select(ClassMember).join(TrainingClass).where(
        ClassMember.trainee_id == trainee.id, TrainingClass.major_id == training_class.major_id)).all()
    moved_from = [m.training_class.code for m in others]
    for member in others:
        session.delete(member)
    session.add(ClassMember(class_id=training_class.id, trainee_id=trainee.id))
    what = f"{trainee.name}（{mask_phone(trainee.phone)}）" + (f"，从 {'、'.join(moved_from)} 转入" if moved_from else "")
    audit.record(session, actor, "member_added", f"class:{training_class.code}", what)
    session.commit()
    return what


def remove_member(session: Session, training_class: TrainingClass, trainee_id: int, actor: str) -> str:
    member = session.scalar(select(ClassMember).where(ClassMember.class_id == training_class.id,
                                                      ClassMember.trainee_id == trainee_id))
    if member is None:
        raise MemberError("该学员不在本班")
    trainee = member.trainee
    what = f"{trainee.name}（{mask_phone(trainee.phone)}）"
    session.delete(member)
    audit.record(session, actor, "member_removed", f"class:{training_class.code}", what)
    session.commit()
    return what


@dataclass(frozen=True)
class MemberRow:
    trainee_id: int
    name: str
    phone: str  # as stored: masked by the page
    company: str
    bound: bool
    public_earned: Decimal
    public_required: Decimal
    major_earned: Decimal
    major_required: Decimal

    @property
    def finished(self) -> bool:
        return self.public_earned >= self.public_required and self.major_earned >= self.major_required


def members(session: Session, training_class: TrainingClass) -> list[MemberRow]:
    """The class's trainees with their hours in the 公共课 and the class's major (four queries)."""
    rows = session.execute(
        select(Trainee.id, Trainee.name, Trainee.phone, Trainee.company, WechatUser.id.is_not(None))
        .join(ClassMember, ClassMember.trainee_id == Trainee.id)
        .outerjoin(WechatUser, WechatUser.trainee_id == Trainee.id)
        .where(ClassMember.class_id == training_class.id).order_by(Trainee.name, Trainee.id)
    ).all()
    courses = session.execute(select(Course.id, Course.kind, Course.hours_required).where(
        (Course.kind == COURSE_PUBLIC) | (Course.major_id == training_class.major_id))).all()
    required = {"public": Decimal(PUBLIC_HOURS), "major": Decimal(PROFESSIONAL_HOURS)}
    part = {"public": 0, "major": 0}  # the course id of each part (0: no such course yet)
    for course_id, kind, hours_required in courses:
        key = "public" if kind == COURSE_PUBLIC else "major"
        required[key], part[key] = Decimal(hours_required), course_id
    earned = hours.earned(session, select(ClassMember.trainee_id).where(ClassMember.class_id == training_class.id),
                          [course_id for course_id, _, _ in courses])
    zero = Decimal(0)
    return [MemberRow(tid, name, phone, company, bool(bound),
                      earned.get((tid, part["public"]), zero), required["public"],
                      earned.get((tid, part["major"]), zero), required["major"])
            for tid, name, phone, company, bound in rows]


class NotifyPreview:
    """How many of a class's trainees the class-open notice would reach, and by which channel."""

    def __init__(self, wechat: int, sms: int, already: int):
        self.wechat, self.sms, self.already = wechat, sms, already

    @property
    def total(self) -> int:
        return self.wechat + self.sms


def notify_preview(session: Session, training_class: TrainingClass, wechat_ready: bool) -> NotifyPreview:
    """The split `notices.class_open` will make: bound to a WeChat not known to have unfollowed (and
    a template configured) → WeChat, anyone else → SMS; trainees the notice already has rows for
    count apart."""
    reached = select(OutboxMessage.trainee_id).join(Notice, Notice.id == OutboxMessage.notice_id).where(
        Notice.key == f"{NOTICE_CLASS_OPEN}:{training_class.id}")
    done, follows = ClassMember.trainee_id.in_(reached), WechatUser.id.is_not(None)
    rows = session.execute(
        select(done, follows, func.count())
        .outerjoin(WechatUser, and_(WechatUser.trainee_id == ClassMember.trainee_id, NOT_UNFOLLOWED))
        .where(ClassMember.class_id == training_class.id).group_by(done, follows)
    ).all()
    wechat = sum(n for done, follows, n in rows if not done and follows and wechat_ready)
    sms = sum(n for done, follows, n in rows if not done and not (follows and wechat_ready))
    return NotifyPreview(wechat, sms, sum(n for done, _, n in rows if done))


@dataclass(frozen=True)
class Delivery:
    trainee_id: int
    name: str
    phone: str
    notice_kind: str
    channel: str
    state: str
    attempts: int
    last_error: str
    sent_at: datetime | None
    outbox_id: int = 0  # for staff's 重发 of an `unknown` one


def deliveries(session: Session, training_class: TrainingClass) -> list[Delivery]:
    """Every message of the class's notices, per trainee, the ones needing a person first."""
    rows = session.execute(
        select(Trainee.id, Trainee.name, Trainee.phone, Notice.kind, OutboxMessage.channel, OutboxMessage.state,
               OutboxMessage.attempts, OutboxMessage.last_error, OutboxMessage.sent_at, OutboxMessage.id)
        .join(OutboxMessage, OutboxMessage.trainee_id == Trainee.id)
        .join(Notice, Notice.id == OutboxMessage.notice_id)
        .where(Notice.class_id == training_class.id).order_by(Notice.id, Trainee.name, OutboxMessage.id)
    ).all()
    order = {"unknown": 0, "failed": 1, SENDING: 2, PENDING: 3, "sent": 4}
    found = [Delivery(*row[:7], row[7] or "", row[8], row[9]) for row in rows]
    return sorted(found, key=lambda d: order.get(d.state, 5))
