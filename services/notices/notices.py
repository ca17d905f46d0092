"""Notices (通知): what to tell whom. Writes a notice and its outbox rows; the dispatcher sends them.

- `class_open`: staff's `notify class-open CODE`, to every trainee of the class;
- `class_reminders`: the day before a class starts (the scheduler asks hourly, from 09:00);
- `registration_expiry`: weekly, trainees whose 注册有效期 ends within 3 months and who have not
  finished their continuing education; staff may also send it from the console's at-risk list
  (`at_risk_reminder`): either way a trainee gets it at most once a week;
- `hours_complete`: a major's 公共课 and 专业课 hours became complete (the exam opened), once per
  enrollment, to a trainee who has not started that exam (the scheduler looks every minute);
- `move_code`, `binding_moved`: a trainee moving their binding to a new WeChat (the SMS code, and the
  word to the WeChat left).

A notice has a key that names it (`class_open:7`), so asking again finds the same notice, and
rows are written only for trainees who have none for it yet: a second run writes nothing and so
sends nothing, while a trainee added to the class since is reached. A trainee bound to a WeChat
not known to have unfollowed (following, or never seen either way: everyone who followed before
the service went live), when the kind has a WeChat template, gets a template message; anyone
else an SMS.
"""
from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, String, and_, cast, exists, func, literal, select
from sqlalchemy.orm import Session, aliased

from models import (
    ClassMember,
    Course,
    Enrollment,
    HoursSummary,
    Major,
    Notice,
    OutboxMessage,
    Trainee,
    TrainingClass,
    WechatUser,
)
from models.catalog import COURSE_PUBLIC
from models.exam import ExamAttempt
from models.notices import (
    CHANNEL_SMS,
    CHANNEL_WECHAT,
    FAILED,
    NOTICE_BINDING_MOVED,
    NOTICE_CLASS_OPEN,
    NOTICE_CLASS_REMINDER,
    NOTICE_EXAM_RESULT,
    NOTICE_EXAM_VOIDED,
    NOTICE_HOURS_COMPLETE,
    NOTICE_MOVE_CODE,
    NOTICE_REGISTRATION_EXPIRY,
    PENDING,
    SENDING,
    SENT,
    UNKNOWN,
    WITHDRAWN,
)
from services import ServiceError
from services.completion.owed import owes_an_exam
from services.db import transaction
from services.identity import audit
from services.identity.followers import NOT_UNFOLLOWED
from services.notices import premise
from services.notices.notice_templates import KindTemplates
from services.notices.outbox import TO_OPENID, insert_ignoring_conflicts
from services.school.classes import find_class
from services.timeutil import SHANGHAI, local_text, utcnow

EXPIRY_HORIZON_MONTHS = 3
REMINDER_GAP_DAYS = 7  # a registration-expiry reminder at most once in this many days per trainee
# What staff and trainees call each kind of notice (console, commands, the phone simulator).
KIND_LABELS = {"class_open": "开班通知", "class_reminder": "开班提醒", "registration_expiry": "注册到期提醒",
               "exam_result": "考试成绩", "exam_voided": "取消考试成绩", "hours_complete": "学时修满通知",
               "move_code": "更换微信验证码", "binding_moved": "微信已更换提醒"}
# The one table of each: an outbox row's state (in this order in counts) and channel, for staff.
STATE_LABELS = {SENT: "已发送", FAILED: "失败", UNKNOWN: "状态未知（请人工核实）", PENDING: "待发送", SENDING: "发送中",
                WITHDRAWN: "已撤回"}
CHANNEL_LABELS = {CHANNEL_WECHAT: "微信模板消息", CHANNEL_SMS: "短信"}
INSERT_CHUNK = 1000


class NoticeError(ServiceError):
    """A notice can't be written as asked."""


@dataclass(frozen=True)
class Recipient:
    trainee_id: int
    follows: bool  # bound to a WeChat not known to have unfollowed the account
    params: dict[str, str] | None = None


def class_open(session: Session, templates: dict[str, KindTemplates], class_code: str, requested_by: str,
               learn_url: str, now: datetime | None = None) -> Notice:
    """The class-open notice of a class and a row for each of its trainees not yet reached."""
    now = now or utcnow()
    training_class = find_class(session, class_code)
    return _write(session, templates, f"{NOTICE_CLASS_OPEN}:{training_class.id}", NOTICE_CLASS_OPEN, training_class,
                  requested_by, _class_params(session, training_class, learn_url),
                  _members(session, training_class.id), now, premise.of_class(training_class))


def class_reminders(session: Session, templates: dict[str, KindTemplates], learn_url: str,
                    now: datetime | None = None) -> list[Notice]:
    """Reminders of the classes starting from now to the end of tomorrow (Beijing time).

    Computed from the classes themselves, so a class created or moved needs nothing scheduled:
    its reminder is keyed by its start time, and a moved class gets one for its new time.
    """
    now = now or utcnow()
    tomorrow = now.astimezone(SHANGHAI).date() + timedelta(days=1)
    horizon = datetime.combine(tomorrow + timedelta(days=1), time(0), SHANGHAI).astimezone(UTC)
    starting = session.scalars(
        select(TrainingClass).where(TrainingClass.starts_at > now, TrainingClass.starts_at < horizon)
        .order_by(TrainingClass.starts_at)
    ).all()
    return [
        _write(session, templates,
               f"{NOTICE_CLASS_REMINDER}:{training_class.id}:{training_class.starts_at:%Y%m%dT%H%MZ}",
               NOTICE_CLASS_REMINDER, training_class, "scheduler", _class_params(session, training_class, learn_url),
               _members(session, training_class.id), now, premise.of_class(training_class))
        for training_class in starting
    ]


def registration_expiry(session: Session, templates: dict[str, KindTemplates], learn_url: str,
                        now: datetime | None = None) -> Notice | None:
    """This week's reminder to trainees whose registration ends within 3 months, not finished.

    Keyed by the ISO week: however often it runs in a week, a trainee gets it at most once; and
    nobody staff reminded from the console in the last 7 days (`reminded_within_week`).
    """
    now = now or utcnow()
    today = now.astimezone(SHANGHAI).date()
    follows = func.count(WechatUser.id)
    rows = session.execute(
        select(Enrollment.trainee_id, func.min(Enrollment.registration_expires), follows)
        .outerjoin(WechatUser, and_(WechatUser.trainee_id == Enrollment.trainee_id, NOT_UNFOLLOWED))
        .where(Enrollment.registration_expires.between(today, add_months(today, EXPIRY_HORIZON_MONTHS)),
               owes_an_exam(Enrollment.trainee_id),  # a trainee who passed every exam is done
               Enrollment.trainee_id.not_in(reminded_within_week(now)))
        .group_by(Enrollment.trainee_id).order_by(Enrollment.trainee_id)
    ).all()
    recipients = [
        Recipient(trainee_id, count > 0, {"expires_on": _date_text(expires)})
        for trainee_id, expires, count in rows if expires is not None  # never None: `between` above
    ]
    if not recipients:
        return None
    week = today.isocalendar()
    return _write(session, templates, f"{NOTICE_REGISTRATION_EXPIRY}:{week.year}-W{week.week:02d}",
                  NOTICE_REGISTRATION_EXPIRY, None, "scheduler", {"link": learn_url}, recipients, now)


def reminded_within_week(now: datetime) -> Select[int]:
    """Trainees sent a registration-expiry reminder on one of the last REMINDER_GAP_DAYS days
    (Beijing dates, today's included), whatever the door (the weekly job, the console's at-risk
    list): each trainee gets at most one a week. By date, so that next week's run at the same hour
    reaches the trainees of this week's."""
    first_day = now.astimezone(SHANGHAI).date() - timedelta(days=REMINDER_GAP_DAYS - 1)
    since = datetime.combine(first_day, time(0), SHANGHAI).astimezone(UTC)
    return (select(OutboxMessage.trainee_id).join(Notice, Notice.id == OutboxMessage.notice_id)
            .where(Notice.kind == NOTICE_REGISTRATION_EXPIRY, OutboxMessage.created_at >= since))


def at_risk_reminder(session: Session, templates: dict[str, KindTemplates], expiring: dict[int, date], actor: str,
                     learn_url: str, now: datetime) -> Notice | None:
    """Staff's registration-expiry reminder to the trainees chosen on the at-risk list (trainee →
    the registration end to name), but those reminded within the week; the notice and its audit
    record in one transaction. None when nobody is left to remind."""
    with transaction(session):
        recent = set(session.scalars(reminded_within_week(now).where(OutboxMessage.trainee_id.in_(list(expiring)))))
        chosen = sorted(tid for tid in expiring if tid not in recent)
        if not chosen:
            return None
        follows = set(session.scalars(select(WechatUser.trainee_id).where(WechatUser.trainee_id.in_(chosen),
                                                                           NOT_UNFOLLOWED)))
        recipients = [Recipient(tid, tid in follows, {"expires_on": _date_text(expiring[tid])}) for tid in chosen]
        key = f"{NOTICE_REGISTRATION_EXPIRY}:console:{now:%Y%m%dT%H%M%S.%f}"
        notice = _notice(session, key, NOTICE_REGISTRATION_EXPIRY, None, f"console:{actor}", {"link": learn_url}, now)
        _add_rows(session, notice, recipients, bool(templates[NOTICE_REGISTRATION_EXPIRY].wechat.template_id), now)
        notice.recipients = len(recipients)
        audit.record(session, actor, "at_risk_reminded", "at-risk", f"注册到期提醒：学员 {len(recipients)} 人")
    return notice


def counts(session: Session, notice_id: int | None = None) -> dict[str, dict[str, int]]:
    """{channel: {state: rows}} of one notice, or of the whole outbox."""
    query = select(OutboxMessage.channel, OutboxMessage.state, func.count())
    if notice_id is not None:
        query = query.where(OutboxMessage.notice_id == notice_id)
    result: dict[str, dict[str, int]] = defaultdict(dict)
    for channel, state, n in session.execute(query.group_by(OutboxMessage.channel, OutboxMessage.state)):
        result[channel][state] = n
    return dict(result)


@dataclass(frozen=True)
class Undelivered:
    """A message staff should look at: failed, of unknown fate, waiting for another try, or
    withdrawn (its premise changed: `last_error` says why)."""

    trainee_name: str
    phone: str  # as stored: mask it before showing
    channel: str
    state: str
    attempts: int
    last_error: str
    outbox_id: int = 0  # for staff's 重发 of an `unknown` one


def class_notices(session: Session, class_code: str) -> tuple[TrainingClass, list[Notice]]:
    """A class and the notices sent about it (class-open, reminders), oldest first."""
    training_class = find_class(session, class_code)
    found = session.scalars(select(Notice).where(Notice.class_id == training_class.id).order_by(Notice.id))
    return training_class, list(found)


def undelivered(session: Session, notice_id: int) -> list[Undelivered]:
    """The messages of a notice that are not (yet) delivered, the ones needing a person first."""
    rows = session.execute(
        select(Trainee.name, Trainee.phone, OutboxMessage.channel, OutboxMessage.state, OutboxMessage.attempts,
               OutboxMessage.last_error, OutboxMessage.id)
        .join(Trainee, Trainee.id == OutboxMessage.trainee_id)
        .where(OutboxMessage.notice_id == notice_id,
               (OutboxMessage.state.in_((FAILED, UNKNOWN, WITHDRAWN))) | ((OutboxMessage.state == PENDING)
                                                                        & (OutboxMessage.attempts > 0)))
    )
    order = {UNKNOWN: 0, FAILED: 1, PENDING: 2, WITHDRAWN: 3}
    found = [Undelivered(name, phone, channel, state, attempts, last_error or "", row_id)
             for name, phone, channel, state, attempts, last_error, row_id in rows]
    return sorted(found, key=lambda u: (order[u.state], u.trainee_name))


def _date_text(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day (11-30 + 3 months = 02-28)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _class_params(session: Session, training_class: TrainingClass, learn_url: str) -> dict[str, str]:
    return {
        "class_name": training_class.name, "class_code": training_class.code, "place": training_class.place,
        "major": session.get_one(Major, training_class.major_id).name,
        "starts_at": local_text(training_class.starts_at),
        "link": learn_url,
    }


def _members(session: Session, class_id: int) -> list[Recipient]:
    rows = session.execute(
        select(ClassMember.trainee_id, WechatUser.id.is_not(None))
        .outerjoin(WechatUser, and_(WechatUser.trainee_id == ClassMember.trainee_id, NOT_UNFOLLOWED))
        .where(ClassMember.class_id == class_id).order_by(ClassMember.trainee_id)
    ).all()
    return [Recipient(trainee_id, bool(follows)) for trainee_id, follows in rows]


def _write(session: Session, templates: dict[str, KindTemplates], key: str, kind: str,
           training_class: TrainingClass | None, requested_by: str, params: dict[str, str], recipients: list[Recipient],
           now: datetime, depends_on: premise.Premise | None = None) -> Notice:
    """Finds or creates the notice, adds rows for trainees it has none for; one transaction.
    A class notice written again carries the class's current time and place: its rows withdrawn
    for the old ones are due again."""
    with transaction(session):
        notice = _notice(session, key, kind, training_class, requested_by, params, now, depends_on)
        if training_class is not None:
            premise.revive(session, notice, now)
        _add_rows(session, notice, recipients, bool(templates[kind].wechat.template_id), now)
        reached = func.count(func.distinct(OutboxMessage.trainee_id))
        notice.recipients = session.scalar(select(reached).where(OutboxMessage.notice_id == notice.id)) or 0
    return notice


def _notice(session: Session, key: str, kind: str, training_class: TrainingClass | None, requested_by: str,
            params: dict[str, str], now: datetime, depends_on: premise.Premise | None = None) -> Notice:
    # ON CONFLICT DO NOTHING: two staff running the same notify at once find one notice.
    session.execute(insert_ignoring_conflicts(session, Notice).values(
        key=key, kind=kind, class_id=training_class.id if training_class else None, requested_by=requested_by[:64],
        params=params, recipients=0, premise=depends_on, created_at=now, updated_at=now,
    ))
    notice = session.scalars(select(Notice).where(Notice.key == key)).one()
    notice.params = params  # rows not yet sent carry the class's current data
    notice.premise = depends_on
    return notice


def _add_rows(session: Session, notice: Notice, recipients: list[Recipient], wechat_ready: bool,
              now: datetime) -> None:
    reached = set(session.scalars(select(OutboxMessage.trainee_id).where(OutboxMessage.notice_id == notice.id)))
    rows = [
        {"notice_id": notice.id, "trainee_id": r.trainee_id, "params": r.params,
         "channel": CHANNEL_WECHAT if wechat_ready and r.follows else CHANNEL_SMS,
         "state": PENDING, "attempts": 0, "next_try_at": now, "created_at": now, "updated_at": now}
        for r in recipients if r.trainee_id not in reached
    ]
    for start in range(0, len(rows), INSERT_CHUNK):
        session.execute(insert_ignoring_conflicts(session, OutboxMessage), rows[start:start + INSERT_CHUNK])


HOURS_BATCH = 500  # enrollments told per run; the rest at the next


def hours_complete(session: Session, templates: dict[str, KindTemplates], exam_url: str,
                   now: datetime | None = None) -> list[Notice]:
    """学时已修满，可以参加考试: one notice per enrollment whose hours became complete, to a trainee
    who has not sat that exam yet; keyed by the enrollment, so never twice."""
    now = now or utcnow()
    public, public_sum = aliased(Course), aliased(HoursSummary)
    course, course_sum = aliased(Course), aliased(HoursSummary)
    key = literal(f"{NOTICE_HOURS_COMPLETE}:", String) + cast(Enrollment.id, String)
    rows = session.execute(
        select(Enrollment.id, Enrollment.trainee_id, Major.name)
        .join(Major, Major.id == Enrollment.major_id)
        .join(course, course.major_id == Enrollment.major_id)
        .join(course_sum, (course_sum.course_id == course.id) & (course_sum.trainee_id == Enrollment.trainee_id))
        .join(public, public.kind == COURSE_PUBLIC)
        .join(public_sum, (public_sum.course_id == public.id) & (public_sum.trainee_id == Enrollment.trainee_id))
        .where(course_sum.hours_earned >= course.hours_required, public_sum.hours_earned >= public.hours_required,
               ~exists(select(ExamAttempt.id).where(ExamAttempt.enrollment_id == Enrollment.id)),
               ~exists(select(Notice.id).where(Notice.key == key)))
        .order_by(Enrollment.id).limit(HOURS_BATCH)
    ).all()
    written = []
    for enrollment_id, trainee_id, major in rows:
        with transaction(session):
            written.append(_write_one(session, templates, f"{NOTICE_HOURS_COMPLETE}:{enrollment_id}",
                                      NOTICE_HOURS_COMPLETE, trainee_id, {"major": major, "link": exam_url}, now,
                                      "scheduler", premise.of_enrollment(enrollment_id)))
    return written


# -- the exam's notices (written inside the caller's transaction: they flush, never commit) ------

def exam_result(session: Session, templates: dict[str, KindTemplates], *, trainee_id: int, attempt_id: int,
                major: str, score: int, passed: bool, exam_url: str, now: datetime) -> Notice:
    """The result of one attempt (合格 / 不合格, the score), to its trainee; once per attempt."""
    params = {"major": major, "score": f"{score}分", "result": "合格" if passed else "不合格",
              "link": exam_url}
    return _write_one(session, templates, f"{NOTICE_EXAM_RESULT}:{attempt_id}", NOTICE_EXAM_RESULT, trainee_id,
                      params, now, depends_on=premise.of_attempt(attempt_id))


def withdraw_exam_result(session: Session, attempt_id: int, now: datetime) -> int:
    """The attempt's result notice not sent yet is withdrawn (staff voided the pass it tells)."""
    return premise.withdraw_pending(session, f"{NOTICE_EXAM_RESULT}:{attempt_id}", premise.RESULT_VOIDED, now)


def exam_voided(session: Session, templates: dict[str, KindTemplates], *, trainee_id: int, attempt_id: int,
                major: str, reason: str, requested_by: str, exam_url: str, now: datetime) -> Notice:
    """Staff cancelled this pass (取消测试成绩): why, and that the exam is open again."""
    params = {"major": major, "reason": reason[:100], "link": exam_url}
    return _write_one(session, templates, f"{NOTICE_EXAM_VOIDED}:{attempt_id}", NOTICE_EXAM_VOIDED, trainee_id,
                      params, now, requested_by)


def _write_one(session: Session, templates: dict[str, KindTemplates], key: str, kind: str, trainee_id: int,
               params: dict[str, str], now: datetime, requested_by: str = "exam",
               depends_on: premise.Premise | None = None) -> Notice:
    follows = (session.scalar(select(func.count(WechatUser.id)).where(
        WechatUser.trainee_id == trainee_id, NOT_UNFOLLOWED)) or 0) > 0
    notice = _notice(session, key, kind, None, requested_by, params, now, depends_on)
    _add_rows(session, notice, [Recipient(trainee_id, follows)], bool(templates[kind].wechat.template_id), now)
    notice.recipients = 1
    session.flush()
    return notice


# -- 更换绑定的微信 (services.rebind; in the caller's transaction: they flush, never commit) ---

def move_code(session: Session, *, trainee_id: int, code: str, key: str, now: datetime) -> Notice:
    """The SMS code of a move, to the roster phone (never by WeChat: the code proves the phone)."""
    notice = _notice(session, f"{NOTICE_MOVE_CODE}:{key}", NOTICE_MOVE_CODE, None, "trainee", {}, now)
    _add_rows(session, notice, [Recipient(trainee_id, False, {"code": code})], False, now)
    notice.recipients = 1
    session.flush()
    return notice


def binding_moved(session: Session, templates: dict[str, KindTemplates], *, trainee_id: int, old_openid: str,
                  key: str, now: datetime) -> Notice:
    """The word to the WeChat the account moved away from (a template message to that OpenID; an
    SMS to the roster phone when WeChat can't take it): if it wasn't them, call the school."""
    params = {"moved_at": local_text(now)}
    notice = _notice(session, f"{NOTICE_BINDING_MOVED}:{key}", NOTICE_BINDING_MOVED, None, "trainee", params, now)
    _add_rows(session, notice, [Recipient(trainee_id, True, {TO_OPENID: old_openid})],
              bool(templates[NOTICE_BINDING_MOVED].wechat.template_id), now)
    notice.recipients = 1
    session.flush()
    return notice
