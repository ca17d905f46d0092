"""Classes in the staff console, read only: the list with member counts, members with their
hours, and the class-open notice's preview and delivery. Staff's changes to a class are
`services.school.classes`'s actions."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeVarTuple

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session

from models import (
    ClassMember,
    Course,
    Notice,
    OutboxMessage,
    Trainee,
    TrainingClass,
    WechatUser,
)
from models.catalog import COURSE_PUBLIC
from models.notices import CHANNEL_WECHAT, NOTICE_CLASS_OPEN, PENDING, SENDING, WITHDRAWN
from services.identity.followers import NOT_UNFOLLOWED
from services.school.majors import PROFESSIONAL_HOURS, PUBLIC_HOURS
from services.study import hours

Ts = TypeVarTuple("Ts")


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


# Rows per page of a class's members and of its delivery table: a term's class has thousands of
# trainees, and the page rendered them all (2.7 MB for 3,333 and their messages, refreshed every 3 s
# by htmx while a push went out: bench/term.py).
PAGE_SIZE = 100


def _one_page(query: Select[*Ts], page: int | None, size: int | None) -> Select[*Ts]:
    """`query` limited to page `page` (from 1) of `size` rows (PAGE_SIZE when None); whole when `page` is None."""
    if page is None:
        return query
    size = size or PAGE_SIZE
    return query.offset((page - 1) * size).limit(size)


def members(session: Session, training_class: TrainingClass, page: int | None = None,
            size: int | None = None) -> list[MemberRow]:
    """The class's trainees with their hours in the 公共课 and the class's major (three queries), by
    name; one page of them when `page` is given, all otherwise (the attendance report)."""
    query = (select(Trainee.id, Trainee.name, Trainee.phone, Trainee.company, WechatUser.id.is_not(None))
             .join(ClassMember, ClassMember.trainee_id == Trainee.id)
             .outerjoin(WechatUser, WechatUser.trainee_id == Trainee.id)
             .where(ClassMember.class_id == training_class.id).order_by(Trainee.name, Trainee.id))
    rows = session.execute(_one_page(query, page, size)).all()
    if not rows:
        return []
    courses = session.execute(select(Course.id, Course.kind, Course.hours_required).where(
        (Course.kind == COURSE_PUBLIC) | (Course.major_id == training_class.major_id))).all()
    required = {"public": Decimal(PUBLIC_HOURS), "major": Decimal(PROFESSIONAL_HOURS)}
    part = {"public": 0, "major": 0}  # the course id of each part (0: no such course yet)
    for course_id, kind, hours_required in courses:
        key = "public" if kind == COURSE_PUBLIC else "major"
        required[key], part[key] = Decimal(hours_required), course_id
    whose = ([row[0] for row in rows] if page is not None
             else select(ClassMember.trainee_id).where(ClassMember.class_id == training_class.id))
    earned = hours.earned(session, whose, [course_id for course_id, _, _ in courses])
    zero = Decimal(0)
    return [MemberRow(tid, name, phone, company, bool(bound),
                      earned.get((tid, part["public"]), zero), required["public"],
                      earned.get((tid, part["major"]), zero), required["major"])
            for tid, name, phone, company, bound in rows]


def member_count(session: Session, training_class: TrainingClass) -> int:
    return session.scalar(select(func.count()).select_from(ClassMember)
                          .where(ClassMember.class_id == training_class.id)) or 0


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
    count apart, but for rows withdrawn (已撤回: the class was moved before they went out), which
    the notice written again sends as they are, on their channel."""
    notice_id = session.scalar(select(Notice.id).where(Notice.key == f"{NOTICE_CLASS_OPEN}:{training_class.id}"))
    members = select(ClassMember.trainee_id).where(ClassMember.class_id == training_class.id)
    withdrawn: dict[int, set[str]] = {}  # trainee -> the channels of their withdrawn rows
    for trainee_id, channel in session.execute(select(OutboxMessage.trainee_id, OutboxMessage.channel).where(
            OutboxMessage.notice_id == notice_id, OutboxMessage.state == WITHDRAWN,
            OutboxMessage.trainee_id.in_(members))):
        withdrawn.setdefault(trainee_id, set()).add(channel)
    reached = ClassMember.trainee_id.in_(select(OutboxMessage.trainee_id).where(OutboxMessage.notice_id == notice_id))
    follows = WechatUser.id.is_not(None)
    counts = session.execute(
        select(reached, follows, func.count())
        .outerjoin(WechatUser, and_(WechatUser.trainee_id == ClassMember.trainee_id, NOT_UNFOLLOWED))
        .where(ClassMember.class_id == training_class.id).group_by(reached, follows)
    ).all()
    again_wechat = sum(1 for channels in withdrawn.values() if CHANNEL_WECHAT in channels)
    wechat = sum(n for done, follows, n in counts if not done and follows and wechat_ready) + again_wechat
    sms = sum(n for done, follows, n in counts if not done and not (follows and wechat_ready)) + \
        len(withdrawn) - again_wechat
    return NotifyPreview(wechat, sms, sum(n for done, _, n in counts if done) - len(withdrawn))


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


@dataclass(frozen=True)
class DeliveryPage:
    """One page of a class's messages, and how many messages there are in each state."""

    rows: list[Delivery]
    states: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.states.values())

    @property
    def waiting(self) -> int:
        """Messages still on their way (the table refreshes itself while there are any)."""
        return self.states.get(PENDING, 0) + self.states.get(SENDING, 0)


# The messages needing a person first, then those on their way, the sent ones last.
STATE_ORDER = {"unknown": 0, "failed": 1, SENDING: 2, PENDING: 3, "sent": 4}


def deliveries(session: Session, training_class: TrainingClass, page: int | None = None,
               size: int | None = None) -> DeliveryPage:
    """The messages of the class's notices, per trainee, the ones needing a person first (one page of
    them when `page` is given), with the count of each state (two queries)."""
    of_class = [Notice.class_id == training_class.id]
    states = dict(session.execute(
        select(OutboxMessage.state, func.count()).join(Notice, Notice.id == OutboxMessage.notice_id)
        .where(*of_class).group_by(OutboxMessage.state)).all())
    query = (select(Trainee.id, Trainee.name, Trainee.phone, Notice.kind, OutboxMessage.channel, OutboxMessage.state,
                    OutboxMessage.attempts, OutboxMessage.last_error, OutboxMessage.sent_at, OutboxMessage.id)
             .join(OutboxMessage, OutboxMessage.trainee_id == Trainee.id)
             .join(Notice, Notice.id == OutboxMessage.notice_id)
             .where(*of_class)
             .order_by(case(STATE_ORDER, value=OutboxMessage.state, else_=len(STATE_ORDER)),
                       Notice.id, Trainee.name, OutboxMessage.id))
    rows = [Delivery(*row[:7], row[7] or "", row[8], row[9]) for row in session.execute(_one_page(query, page, size))]
    return DeliveryPage(rows, states)
