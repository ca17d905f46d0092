"""Classes (班级), staff's actions on them for the console and the CLI alike: create by code, edit
(name, time, place), add and remove members; each recorded in the audit log in its transaction.
Trainees also join classes through the roster.

Start times are typed in Beijing time and stored in UTC. Creating a class again with the very
same values is a no-op, so scripts may re-run; any difference is refused, since members may
already have been told the old time and place.

A moved class needs nothing rescheduled: the scheduler's reminders are keyed by the start time
(`services.notices.notices.class_reminders`), so the new time gets its own reminder. What a move
must undo is a reminder already written for the old time and not sent yet: those rows are
withdrawn in the edit's transaction (已撤回, kept as the record of what was not sent), as the
dispatcher's check at claim would withdraw them.
"""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models import ClassMember, Enrollment, Notice, OutboxMessage, TrainingClass
from models.notices import NOTICE_CLASS_REMINDER, PENDING, WITHDRAWN, WITHDRAWN_CLASS_MOVED
from services import ServiceError
from services.db import affected, transaction
from services.identity import audit
from services.identity.binding import find_trainee
from services.identity.pii import PiiCipher, mask_phone
from services.school.imports import cells
from services.school.majors import MAJOR_NAMES, ensure_majors
from services.timeutil import SHANGHAI, utcnow

START_FORMAT = "%Y-%m-%d %H:%M"
CODE_MAX, NAME_MAX, PLACE_MAX = 32, 100, 200


class ClassError(ServiceError):
    """A class can't be created as asked."""


class ClassExists(ClassError):
    """A class with this code exists with other values."""


class StartInPast(ClassError):
    """A new class would start before now: most likely a typo in the year or month."""


def parse_local_start(starts_local: str) -> datetime:
    """A start time typed in Beijing time, in any of the usual forms (`cells.local_moment`:
    2027-03-01 09:00, 2027/3/1 9:00, 2027年3月1日 9:00, the picker's 2027-03-01T09:00), to an
    aware UTC datetime."""
    try:
        local = cells.local_moment(starts_local, "开班时间")
    except cells.CellError as exc:
        raise ClassError(exc.message + "（北京时间）") from None
    return local.replace(tzinfo=SHANGHAI).astimezone(UTC)


def local_start(training_class: TrainingClass) -> str:
    return training_class.starts_at.astimezone(SHANGHAI).strftime(START_FORMAT)


def find_class(session: Session, code: str) -> TrainingClass:
    """The class of this code, whatever its case and spaces; ClassError (404) when there is none."""
    training_class = session.scalar(
        select(TrainingClass).where(func.upper(TrainingClass.code) == cells.compact(code).upper()))
    if training_class is None:
        raise ClassError(f"班级 {cells.compact(code)[:CODE_MAX]} 不存在", status=404)
    return training_class


def create_class(
    session: Session, code: str, major_name: str, name: str, starts_local: str, place: str, actor: str,
    allow_past: bool = False, now: datetime | None = None,
) -> tuple[TrainingClass, bool]:
    """Creates the class, recorded; returns it and whether it is new (False: it existed, identical).
    A new class starting before `now` is refused (StartInPast) unless `allow_past`."""
    with transaction(session):
        training_class, created = _create(session, cells.compact(code), major_name, cells.text(name), starts_local,
                                          cells.text(place))
        if created and not allow_past:
            _check_future(training_class.starts_at, now or datetime.now(UTC))
        if created:
            session.flush()
            audit.record(session, actor, "class_created", f"class:{training_class.code}",
                         f"{training_class.major.name}，{training_class.name}，{local_start(training_class)}，"
                         f"{training_class.place}")
    return training_class, created


def update_class(session: Session, code: str, name: str, starts_local: str, place: str, actor: str,
                 now: datetime | None = None) -> list[str]:
    """Changes name, start time and place (a move withdraws the unsent reminders of the old time),
    recorded; returns the changes in words (empty: nothing changed)."""
    with transaction(session):
        training_class = find_class(session, code)
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
        withdrawn = _withdraw_unsent_reminders(session, training_class.id, now or utcnow()) if moved else 0
        detail = "；".join(changes) + (f"；撤回旧时间的未发提醒 {withdrawn} 条" if withdrawn else "")
        audit.record(session, actor, "class_updated", f"class:{training_class.code}", detail)
    return changes


def local_start_of(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime(START_FORMAT)


def _withdraw_unsent_reminders(session: Session, class_id: int, now: datetime) -> int:
    """Reminder rows of this class waiting to be sent name the old time: withdrawn. A row being
    sent or already sent stays as it is (the record of what the trainee got)."""
    reminders = select(Notice.id).where(Notice.class_id == class_id, Notice.kind == NOTICE_CLASS_REMINDER)
    return affected(session, update(OutboxMessage).where(
        OutboxMessage.notice_id.in_(reminders), OutboxMessage.state == PENDING,
    ).values(state=WITHDRAWN, last_error=WITHDRAWN_CLASS_MOVED, updated_at=now)
        .execution_options(synchronize_session=False))


def add_member(session: Session, cipher: PiiCipher, code: str, phone_or_id: str, actor: str) -> str:
    """Puts a trainee enrolled in the class's major into it (out of another class of that major,
    as a roster import would), recorded; returns what happened in words."""
    with transaction(session):
        training_class = find_class(session, code)
        trainee = find_trainee(session, cipher, phone_or_id)
        if session.scalar(select(Enrollment.id).where(Enrollment.trainee_id == trainee.id,
                                                      Enrollment.major_id == training_class.major_id)) is None:
            raise ClassError(f"{trainee.name} 未报名{training_class.major.name}专业，不能加入本班")
        if session.scalar(select(ClassMember.id).where(ClassMember.class_id == training_class.id,
                                                       ClassMember.trainee_id == trainee.id)) is not None:
            raise ClassError(f"{trainee.name} 已在本班")
        others = session.scalars(select(ClassMember).join(TrainingClass).where(
            ClassMember.trainee_id == trainee.id, TrainingClass.major_id == training_class.major_id)).all()
        moved_from = [m.training_class.code for m in others]
        for member in others:
            session.delete(member)
        session.add(ClassMember(class_id=training_class.id, trainee_id=trainee.id))
        what = f"{trainee.name}（{mask_phone(trainee.phone)}）" + (
            f"，从 {'、'.join(moved_from)} 转入" if moved_from else "")
        audit.record(session, actor, "member_added", f"class:{training_class.code}", what)
    return what


def remove_member(session: Session, code: str, trainee_id: int, actor: str) -> str:
    """Takes a trainee out of the class, recorded; returns who, in words."""
    with transaction(session):
        training_class = find_class(session, code)
        member = session.scalar(select(ClassMember).where(ClassMember.class_id == training_class.id,
                                                          ClassMember.trainee_id == trainee_id))
        if member is None:
            raise ClassError("该学员不在本班", status=404)
        trainee = member.trainee
        what = f"{trainee.name}（{mask_phone(trainee.phone)}）"
        session.delete(member)
        audit.record(session, actor, "member_removed", f"class:{training_class.code}", what)
    return what


def _create(session: Session, code: str, major_name: str, name: str, starts_local: str,
            place: str) -> tuple[TrainingClass, bool]:
    _check_lengths(code, name, place)
    starts_at = parse_local_start(starts_local)
    major = ensure_majors(session).get(cells.compact(major_name))
    if major is None:
        raise ClassError(f"专业“{major_name}”不存在，应为：{'、'.join(MAJOR_NAMES)}")
    existing = session.scalar(select(TrainingClass).where(func.upper(TrainingClass.code) == code.upper()))
    if existing is None:
        training_class = TrainingClass(code=code, major=major, name=name, starts_at=starts_at, place=place)
        session.add(training_class)
        return training_class, True
    if (existing.major_id, existing.name, existing.starts_at, existing.place) \
            != (major.id, name, starts_at, place):
        raise ClassExists(
            f"班级 {existing.code} 已存在（{existing.major.name}，{existing.name}，"
            f"{local_start(existing)}，{existing.place}），与本次填写的不同，未做修改"
        )
    return existing, False


def _check_lengths(code: str, name: str, place: str) -> None:
    limits = (("班级编号", code, CODE_MAX), ("班级名称", name, NAME_MAX), ("上课地点", place, PLACE_MAX))
    for label, value, limit in limits:
        if not value:
            raise ClassError(f"{label}不能为空")
        if len(value) > limit:
            raise ClassError(f"{label}超过{limit}个字")


def _check_future(starts_at: datetime, now: datetime) -> None:
    if starts_at < now:
        raise StartInPast(
            f"开班时间 {starts_at.astimezone(SHANGHAI).strftime(START_FORMAT)}（北京时间）已经过去"
            f"（现在是 {now.astimezone(SHANGHAI).strftime(START_FORMAT)}），请核对年份和日期；未创建班级"
        )
