"""The outbox's bookkeeping: claim due rows, record what became of them, expire lost leases.

A row is claimed by marking it `sending` under a lease, in a transaction committed *before* the
send: on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so dispatchers in any number of processes
never claim a row twice (on SQLite the claim's UPDATE re-checks `state` under SQLite's single
writer lock, which gives the same; the project runs one dispatcher there). Just before its request
leaves, the send records `tried_at` (`mark_tried`). A row whose dispatcher died stays `sending`
until its lease ends (`expire_leases`): never tried, it goes back to `pending`; tried, it may or may
not have left, so it becomes `unknown` for staff to look at (a blind resend could send it twice),
unless it is a WeChat message still inside its resend window (below), which is sent again.

A WeChat send that timed out after the request left may be on the phone already. It is sent
again, with the same `client_msg_id` (WeChat delivers one message per OpenID + client_msg_id within
10 minutes), only while the resend falls inside RESEND_WINDOW of the first such try
(`first_sent_at`); past it the row becomes `unknown`: never resent, never turned into an SMS.
WeChat's TEMPLATESENDJOBFINISH then says what became of a sent one (`record_job_finish`).
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Insert, Update, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models import Base, Notice, OutboxMessage, Trainee, WechatUser
from models.notices import CHANNEL_SMS, CHANNEL_WECHAT, FAILED, PENDING, SENDING, SENT, UNKNOWN
from services.db import affected, table_of, transaction
from services.identity import followers

ERROR_MAX = 300
# WeChat dedups by client_msg_id for 10 minutes; a minute less leaves room for clocks and the send.
RESEND_WINDOW = timedelta(minutes=9)
NOT_FOLLOWING = 43004
# Column values of one outbox row, for a bulk INSERT or UPDATE.
Row = dict[str, object]
# A row's own addressee (its params), instead of the WeChat bound to its trainee now: the word to the
# WeChat a trainee's account just moved away from (services.rebind).
TO_OPENID = "to_openid"
UNKNOWN_FATE = "微信未在超时内应答，可能已送达；不再重发，也不改发短信，请人工核实"
SMS_UNKNOWN_FATE = "短信服务商未在超时内应答，可能已发出；不自动重发，请核实后重发"


# The claim tokens of the scheduler's dispatch runs begin so (a token is at most 32 characters).
SCHEDULER_TOKEN_PREFIX = "sched-"


def client_msg_id(row_id: int) -> str:
    """The template message's client_msg_id: one per outbox row, the same on every resend."""
    return f"wxapp-outbox-{row_id}"


@dataclass(frozen=True)
class Claimed:
    """A claimed row with what its send needs. Holds a phone number: never log it as is."""

    id: int
    notice_id: int
    trainee_id: int
    kind: str
    channel: str
    attempts: int
    openid: str | None
    phone: str
    values: dict[str, str] = field(repr=False)  # texts for the templates: notice's, row's and the trainee's name
    link: str | None = None
    first_sent_at: datetime | None = None  # an earlier try may have reached WeChat then


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed row. `sent`, else `error` and whether it is `transient`;
    `released` when it was never tried (its lease ran short, the dispatcher was interrupted)."""

    id: int
    channel: str
    trainee_id: int
    notice_id: int
    attempts: int
    sent: bool = False
    message_id: str | None = None
    error: str | None = None
    transient: bool = False
    released: bool = False
    unknown: bool = False                  # may have been delivered, must not be sent again
    first_sent_at: datetime | None = None  # the first try that may have reached the provider
    errcode: int | None = None
    openid: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_s: float

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Exponential backoff with jitter: half fixed, half random, so retries spread out."""
        full: float = self.base_s * 2 ** max(attempts - 1, 0)
        return full / 2 + rng.uniform(0, full / 2)


def claim(session: Session, token: str, limit: int, lease_s: float, now: datetime,
          notice_id: int | None = None) -> list[Claimed]:
    """Marks up to `limit` due rows `sending` for `token` and commits; returns them."""
    due = (select(OutboxMessage.id)
           .where(OutboxMessage.state == PENDING, OutboxMessage.next_try_at <= now)
           .order_by(OutboxMessage.next_try_at, OutboxMessage.id).limit(limit)
           .with_for_update(skip_locked=True))
    if notice_id is not None:
        due = due.where(OutboxMessage.notice_id == notice_id)
    with transaction(session):
        # Two statements, not UPDATE … WHERE id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED):
        # PostgreSQL may rescan such a subquery in a semi-join and claim far more than n rows.
        ids: Sequence[int] = session.scalars(due).all()
        if ids:
            ids = session.scalars(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.state == PENDING)
                .values(state=SENDING, claimed_by=token, lease_until=now + timedelta(seconds=lease_s),
                        attempts=OutboxMessage.attempts + 1, updated_at=now, tried_at=None)
                .returning(OutboxMessage.id)
                .execution_options(synchronize_session=False)
            ).all()
        claimed = _load(session, ids) if ids else []
    return claimed


def _load(session: Session, ids: Sequence[int]) -> list[Claimed]:
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.notice_id, OutboxMessage.trainee_id, OutboxMessage.channel,
               OutboxMessage.attempts, OutboxMessage.params, Notice.kind, Notice.params, Trainee.name,
               Trainee.phone, WechatUser.openid, OutboxMessage.first_sent_at)
        .join(Notice, Notice.id == OutboxMessage.notice_id)
        .join(Trainee, Trainee.id == OutboxMessage.trainee_id)
        .outerjoin(WechatUser, and_(WechatUser.trainee_id == Trainee.id, followers.NOT_UNFOLLOWED))
        .where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
    ).all()
    return [
        Claimed(id=r[0], notice_id=r[1], trainee_id=r[2], channel=r[3], attempts=r[4], kind=r[6],
                openid=(r[5] or {}).get(TO_OPENID) or r[10], phone=r[9], link=(r[7] or {}).get("link"),
                first_sent_at=r[11],
                values={**(r[7] or {}), **(r[5] or {}), "trainee_name": r[8]})
        for r in rows
    ]



def mark_tried(session: Session, token: str, ids: Sequence[int], now: datetime) -> set[int]:
    """Records that the sends of `ids` start now (before their requests leave); returns the ids
    still claimed by `token`, the only ones that may be sent."""
    with transaction(session):
        return set(session.scalars(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == token, OutboxMessage.state == SENDING)
            .values(tried_at=now).returning(OutboxMessage.id).execution_options(synchronize_session=False)
        ).all())


def record(session: Session, token: str, outcomes: list[Outcome], policy: RetryPolicy, now: datetime,
           rng: random.Random | None = None) -> int:
    """Writes the outcomes of `token`'s sends in one transaction; returns SMS fallback rows added.

    A WeChat message that fails for good (unsubscribed, bad OpenID, retries spent) becomes an SMS
    to the same trainee, in the same transaction, so no failure is left without its fallback.
    """
    rng = rng or random.Random()
    by_state: dict[str, list[Row]] = {SENT: [], PENDING: [], FAILED: [], UNKNOWN: []}
    fallbacks = []
    for o in outcomes:
        base: Row = {"row_id": o.id, "token": token, "updated_at": now, "lease_until": None,
                     "first_sent_at": o.first_sent_at}
        state, changes = _result(o, policy, now, now + timedelta(seconds=policy.delay(o.attempts, rng)))
        by_state[state].append({**base, **changes})
        if state == FAILED and o.channel == CHANNEL_WECHAT:
            fallbacks.append(_fallback(o.notice_id, o.trainee_id, now))
    unfollowed = [o.openid for o in outcomes if o.errcode == NOT_FOLLOWING and o.openid]
    with transaction(session):
        for state, rows in by_state.items():
            if rows:
                _write_results(session, state, rows)
        if fallbacks:
            session.execute(insert_ignoring_conflicts(session, OutboxMessage), fallbacks)
        followers.record_unfollowed(session, unfollowed, now)
    return len(fallbacks)


def _result(o: Outcome, policy: RetryPolicy, now: datetime, retry_at: datetime) -> tuple[str, Row]:
    """The state an outcome leaves its row in, and the columns that change with it."""
    if o.sent:
        return SENT, {"provider_message_id": o.message_id, "sent_at": now, "last_error": None}
    if o.released:
        return PENDING, {"next_try_at": now, "last_error": None, "attempts": o.attempts - 1}
    if o.unknown:
        return UNKNOWN, {"last_error": _cut(o.error)}
    if o.transient and o.attempts < policy.max_attempts and not _past_window(o.first_sent_at, retry_at):
        return PENDING, {"next_try_at": retry_at, "last_error": _cut(o.error), "attempts": o.attempts}
    if o.transient and o.first_sent_at:
        # Tries spent or the window passed, and one try may have reached the phone.
        return UNKNOWN, {"last_error": _cut(f"{UNKNOWN_FATE}（{o.error}）")}
    return FAILED, {"last_error": _cut(o.error)}


def _past_window(first_sent_at: datetime | None, at: datetime) -> bool:
    return first_sent_at is not None and at >= first_sent_at + RESEND_WINDOW


def _fallback(notice_id: int, trainee_id: int, now: datetime) -> Row:
    """The SMS row that stands in for a WeChat message that failed for good."""
    return {"notice_id": notice_id, "trainee_id": trainee_id, "channel": CHANNEL_SMS, "state": PENDING,
            "attempts": 0, "next_try_at": now, "created_at": now, "updated_at": now}


def _write_results(session: Session, state: str, rows: list[Row]) -> None:
    """One executemany UPDATE for rows sharing a state; only rows still claimed by the token."""
    table = table_of(OutboxMessage)
    columns = [k for k in rows[0] if k not in ("row_id", "token")]
    statement = (update(table)
                 .where(table.c.id == bindparam("row_id"), table.c.claimed_by == bindparam("token"))
                 .values(state=state, **{k: bindparam(f"v_{k}") for k in columns}))
    session.connection().execute(statement, [
        {"row_id": row["row_id"], "token": row["token"], **{f"v_{k}": row[k] for k in columns}} for row in rows
    ])


def insert_ignoring_conflicts(session: Session, model: type[Base]) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING for the session's database (PostgreSQL or SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model).on_conflict_do_nothing()
    return sqlite.insert(model).on_conflict_do_nothing()


def expire_leases(session: Session, now: datetime) -> int:
    """Rows left `sending` past their lease (their dispatcher died): never tried, back to `pending`;
    a WeChat message tried inside its resend window, `pending` too (resent with its client_msg_id);
    any other tried row, `unknown`. Returns how many rows changed."""
    return _give_back(session, now, OutboxMessage.lease_until < now)


def release_scheduler_claims(session: Session, now: datetime) -> int:
    """What dispatch runs of a scheduler left `sending` (tokens of SCHEDULER_TOKEN_PREFIX), as if their
    leases had ended: called by a scheduler as it takes the lead, when no run of its own has begun, so
    every such row is a run of a leader gone (killed, or cut off from Redis). Were that leader still
    sending, nothing doubles: a send starts only when `mark_tried` finds the row still claimed by its
    token, and a resent WeChat message keeps its client_msg_id. Returns how many rows changed."""
    return _give_back(session, now, OutboxMessage.claimed_by.startswith(SCHEDULER_TOKEN_PREFIX, autoescape=True))


def _give_back(session: Session, now: datetime, lapsed_when: ColumnElement[bool]) -> int:
    lapsed = [OutboxMessage.state == SENDING, lapsed_when]
    released = {"state": PENDING, "next_try_at": now, "claimed_by": None, "lease_until": None, "updated_at": now}
    window_open = now - RESEND_WINDOW
    with transaction(session):
        untried = affected(session, update(OutboxMessage)
                           .where(*lapsed, OutboxMessage.tried_at.is_(None))
                           .values(**released, attempts=OutboxMessage.attempts - 1)
                           .execution_options(synchronize_session=False))
        resend = affected(session, update(OutboxMessage)
                          .where(*lapsed, OutboxMessage.channel == CHANNEL_WECHAT, OutboxMessage.tried_at > window_open,
                                 or_(OutboxMessage.first_sent_at.is_(None), OutboxMessage.first_sent_at > window_open))
                          .values(**released, first_sent_at=func.coalesce(OutboxMessage.first_sent_at,
                                                                          OutboxMessage.tried_at),
                                  last_error="发送中断（发送进程退出），在微信去重时限内重发")
                          .execution_options(synchronize_session=False))
        unknown = affected(session, update(OutboxMessage).where(*lapsed)
                           .values(state=UNKNOWN, updated_at=now, first_sent_at=func.coalesce(
                               OutboxMessage.first_sent_at, OutboxMessage.tried_at),
                                   last_error="发送中断（发送进程退出），是否已送达未知，请人工核实")
                           .execution_options(synchronize_session=False))
    return untried + resend + unknown


def requeue_failed_texts(session: Session, notice_id: int, now: datetime) -> int:
    """Makes the failed SMS of trainees the notice has not reached due again (e.g. once an SMS
    provider is configured); returns how many. A failed WeChat message already has its SMS, and
    an `unknown` row may have left: neither is sent again."""
    reached = select(OutboxMessage.trainee_id).where(OutboxMessage.notice_id == notice_id,
                                                     OutboxMessage.state == SENT)
    return _update_rows(session, update(OutboxMessage)
                        .where(OutboxMessage.notice_id == notice_id, OutboxMessage.channel == CHANNEL_SMS,
                               OutboxMessage.state == FAILED, OutboxMessage.trainee_id.not_in(reached))
                        .values(state=PENDING, attempts=0, next_try_at=now, claimed_by=None, lease_until=None,
                                updated_at=now))


def _update_rows(session: Session, statement: Update) -> int:
    """Runs a bulk UPDATE in its own transaction; returns the rows it changed."""
    with transaction(session):
        return affected(session, statement.execution_options(synchronize_session=False))


def next_due(session: Session, notice_id: int | None, now: datetime) -> datetime | None:
    """When something of the notice (or of all) may next need a dispatcher: the earliest pending
    row's next try, or `now` while rows are `sending` elsewhere; None when all is settled."""
    scope = [OutboxMessage.notice_id == notice_id] if notice_id is not None else []
    if session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == SENDING, *scope)):
        return now
    earliest = session.scalar(select(func.min(OutboxMessage.next_try_at)).where(OutboxMessage.state == PENDING, *scope))
    session.commit()  # end the read transaction: the next look must see other processes' writes
    return earliest


def _cut(error: str | None) -> str | None:
    return error[:ERROR_MAX] if error else error


_outbox = table_of(OutboxMessage)
# Built once: WeChat's `success` for `msgid`, delivered at `at` (the first report's time is kept).
# Core, so that a list of parameters is one executemany (services.notices.job_reports' batches).
DELIVERED = (
    update(_outbox)
    .where(_outbox.c.channel == CHANNEL_WECHAT, _outbox.c.provider_message_id == bindparam("msgid"))
    .values(delivered_at=func.coalesce(_outbox.c.delivered_at, bindparam("at", type_=_outbox.c.delivered_at.type)))
)
_DELIVERED_STATE = DELIVERED.returning(_outbox.c.state)


def record_job_finish(session: Session, msgid: str, status: str, now: datetime) -> str | None:
    """WeChat's TEMPLATESENDJOBFINISH for `msgid`: `success` marks the row delivered; a failure
    (`failed:user block`, `failed: system failed`) fails it and adds its SMS fallback. Returns
    the row's state after, or None when no row has that msgid (sent by someone else).

    `success`, nearly every one of a push's 20,000 reports, is one UPDATE … RETURNING: loading the row
    and flushing it cost twice the CPU, on the web workers that carry the trainees' pages meanwhile."""
    with transaction(session):
        if status == "success":
            return session.scalars(_DELIVERED_STATE, {"msgid": msgid, "at": now}).first()
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.channel == CHANNEL_WECHAT,
                                                         OutboxMessage.provider_message_id == msgid))
        if row is None:
            return None
        if row.state == SENT and row.delivered_at is None:
            why = _JOB_FAILURES.get(status, "微信未说明原因")
            row.state, row.last_error, row.updated_at = FAILED, _cut(f"微信未送达（{why}）: {status}"), now
            fallback = _fallback(row.notice_id, row.trainee_id, now)
            session.execute(insert_ignoring_conflicts(session, OutboxMessage), [fallback])
        return row.state


# TEMPLATESENDJOBFINISH's failure statuses, as staff read them in the delivery table.
_JOB_FAILURES = {"failed:user block": "学员拒收", "failed: system failed": "微信系统原因"}
