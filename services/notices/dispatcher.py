"""The outbox dispatcher: claims due rows, sends them concurrently, records each outcome.

One thread (the caller's) claims rows and records outcomes; a bounded pool of threads talks to
WeChat and the SMS provider, each send first taking a slot of the shared rate limit, then waiting
until its start is recorded, i.e. that its request is about to leave (`outbox.mark_tried`: a
dispatcher killed before that leaves the row to go back to `pending`, after it `unknown`). On
PostgreSQL the starts are recorded by a thread of their own on a connection of its own (the
Starter), so a send waits one short UPDATE, never behind a claim or a batch of outcomes; starts
that arrive while that UPDATE runs go together in the next one. On SQLite (one writer, the
project runs one dispatcher there) the caller's thread records them too. Outcomes are written in
small batches, so the database sees one transaction per batch, not per message. Memory stays flat
in the number of rows: at most HELD_POOLS pools' worth of rows are held at any time.

Transient failures (WeChat busy -1, 45009, timeouts, connection errors, a token still refused
after the client's one refresh; SMS flow control) come back `pending` with exponential backoff
and jitter, up to `max_attempts`; a WeChat failure for good falls back to SMS (see outbox.record).
Every template message carries its row's client_msg_id. A WeChat send whose request left but whose
answer never came is of unknown fate: resent (WeChat then delivers it once) only inside the
resend window of its first such try, else left `unknown` (see outbox.RESEND_WINDOW). A text whose
request left but whose answer never came is `unknown` at once: an SMS has no such window.
"""
from __future__ import annotations

import logging
import queue
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from models.notices import CHANNEL_WECHAT
from services.identity.pii import mask_phone, short_openid
from services.logfmt import kv
from services.notices import outbox, premise
from services.notices.notice_templates import KindTemplates
from services.notices.outbox import Claimed, Outcome, RetryPolicy
from services.notices.settings import DispatchSettings
from services.notices.sms import SmsBackend, SmsError
from services.ratelimit import RateLimiter
from services.timeutil import utcnow
from services.wechat_api import WeChatApi, WeChatApiError, WeChatUnavailable

log = logging.getLogger(__name__)

BATCH_WINDOW_S = 0.02   # gather outcomes this long before writing them in one transaction
START_WINDOW_S = 0.005  # with a send waiting for its start, gather this long at most
IDLE_CLAIM_S = 0.5      # with nothing claimable, look again this often
MIN_SLEEP_S, MAX_SLEEP_S = 0.1, 1.0  # waiting for retries or other dispatchers' rows: look again
# Rows held (claimed, not yet recorded) at most, in pools' worth; a claim tops up once two pools'
# worth have gone. A claim and a batch of outcomes take the caller's thread several round trips:
# enough rows wait behind the sends that no send thread runs dry meanwhile.
HELD_POOLS = 5
START_POLL_S = 0.1      # a send waiting for its start to be recorded checks this often for an interruption


# The rows being sent: row id -> (its send in the pool, the claimed row).
Inflight = dict[int, tuple[Future[None], Claimed]]


@dataclass(eq=False)
class Start:
    """A send thread's request to the database thread: record that row `id`'s request leaves now."""

    id: int
    answered: threading.Event = field(default_factory=threading.Event)
    granted: bool = False  # recorded, and the row still ours: send it
    asked: bool = False    # handed to the Starter (asked for by its send, or picked ahead)


# What the pool threads hand the database thread: starts to record and outcomes.
Mailbox = queue.Queue[Outcome | Start]


class Starter:
    """Records sends' starts on a session of its own, in its own thread (PostgreSQL).

    Each batch is what was asked while the last UPDATE ran, so a start waits at most two round
    trips. With `ahead` > 0 it also records, in the same UPDATE, the starts of up to `ahead`
    template messages next in the pool's queue (`expect`): their sends then leave without waiting.
    A dispatcher killed meanwhile leaves those tried, so they are resent inside WeChat's
    client_msg_id window, which delivers each once; rows further back stay untried and go back to
    `pending`. Texts are never recorded ahead (a tried text becomes `unknown`). Once the run is
    closing (interrupted) it grants nothing: sends not yet started stay unsent."""

    def __init__(self, session: Session, token: str, clock: Callable[[], datetime], closing: threading.Event,
                 ahead: int = 0):
        self.session = session
        self.token = token
        self.clock = clock
        self.closing = closing
        self.ahead = ahead
        self._lock = threading.Lock()
        self._starts: dict[int, Start] = {}    # rows expected or asked for, not yet settled
        self._upcoming: deque[Start] = deque()  # expected rows in the pool's order, some maybe asked for
        self._granted_ahead: set[int] = set()   # recorded ahead, their sends not yet begun
        self._asks: queue.Queue[Start | bool | None] = queue.Queue()  # a start, True: look ahead, None: stop
        self.thread = threading.Thread(target=self._loop, name="outbox-starter", daemon=True)
        self.thread.start()

    def expect(self, row_id: int) -> None:
        """A template message just queued in the pool: may be recorded ahead of its send."""
        if self.ahead <= 0:
            return
        with self._lock:
            start = self._starts[row_id] = Start(row_id)
            self._upcoming.append(start)
        self._asks.put(True)

    def begin(self, row_id: int) -> Start:
        """The send of `row_id` is about to leave: its start, asked for unless recorded ahead."""
        with self._lock:
            start = self._starts.get(row_id) or self._starts.setdefault(row_id, Start(row_id))
            self._granted_ahead.discard(row_id)
            asked, start.asked = start.asked, True
        self._asks.put(True if asked else start)  # one ahead was used: look further ahead
        return start

    def settle(self, row_id: int) -> None:
        """The send of `row_id` is over (or never made)."""
        with self._lock:
            self._starts.pop(row_id, None)
            self._granted_ahead.discard(row_id)

    def close(self) -> None:
        self._asks.put(None)
        self.thread.join()
        self.session.close()

    def _loop(self) -> None:
        while True:
            asks = [self._asks.get()]
            while True:
                try:
                    asks.append(self._asks.get_nowait())
                except queue.Empty:
                    break
            starts = [ask for ask in asks if isinstance(ask, Start)]
            if not self.closing.is_set():
                starts += self._next_ahead()
            if starts:
                self._grant(starts)
            if None in asks:
                return

    def _next_ahead(self) -> list[Start]:
        """Expected rows to record now: the next ones not asked for, up to `ahead` unbegun."""
        picked: list[Start] = []
        with self._lock:
            room = self.ahead - len(self._granted_ahead)
            while room > 0 and self._upcoming:
                start = self._upcoming.popleft()
                if start.asked or start.id not in self._starts:
                    continue
                start.asked = True
                self._granted_ahead.add(start.id)
                picked.append(start)
                room -= 1
        return picked

    def _grant(self, starts: list[Start]) -> None:
        granted: set[int] = set()
        try:
            if not self.closing.is_set():
                granted = outbox.mark_tried(self.session, self.token, [start.id for start in starts], self.clock())
        except Exception:  # none granted: each send gives its row back
            log.exception(kv("outbox_starts_unrecorded", rows=len(starts)))
        finally:
            for start in starts:
                start.granted = start.id in granted
                start.answered.set()


@dataclass
class DispatchReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    fallbacks: int = 0
    expired_leases: int = 0
    unknown: int = 0


class Dispatcher:
    def __init__(self, session: Session, wechat: WeChatApi, sms: SmsBackend, templates: dict[str, KindTemplates],
                 settings: DispatchSettings, limiter: RateLimiter | None = None,
                 clock: Callable[[], datetime] = utcnow, scheduler: bool = False):
        self.session = session
        self.wechat = wechat
        self.sms = sms
        self.templates = templates
        self.settings = settings
        self.limiter = limiter if settings.rate_per_s > 0 else None
        self.policy = RetryPolicy(settings.max_attempts, settings.retry_base_s)
        self.clock = clock
        # 32 characters; a scheduler's runs are told apart, for the next leader (outbox.release_scheduler_claims).
        prefix = outbox.SCHEDULER_TOKEN_PREFIX if scheduler else ""
        self.token = prefix + uuid.uuid4().hex[:32 - len(prefix)]
        self._rng = random.Random()
        self._mailbox: Mailbox = queue.Queue()
        self._closing = threading.Event()  # set when a run is interrupted: sends not yet started stay unsent
        self._starter: Starter | None = None

    def run(self, notice_id: int | None = None, wait: bool = False, max_seconds: float | None = None) -> DispatchReport:
        """Sends what is due (of one notice, or all); with `wait`, also waits out retries and
        rows other dispatchers hold, until everything is settled or `max_seconds` pass."""
        report = DispatchReport(expired_leases=outbox.expire_leases(self.session, self.clock()))
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        done = self._mailbox = queue.Queue()
        self._closing = threading.Event()
        self._starter = self._new_starter()
        inflight: Inflight = {}
        next_claim = 0.0  # monotonic time of the next claim; pushed back while nothing is claimable
        try:
            with ThreadPoolExecutor(self.settings.pool_size, thread_name_prefix="outbox") as pool:
                try:
                    while True:
                        stopping = deadline is not None and time.monotonic() >= deadline
                        if (not stopping and len(inflight) <= (HELD_POOLS - 2) * self.settings.pool_size
                                and time.monotonic() >= next_claim):
                            claimed = self._top_up(pool, inflight, done, notice_id)
                            next_claim = 0.0 if claimed else time.monotonic() + IDLE_CLAIM_S
                        if inflight:
                            if self._collect(inflight, done, report):
                                next_claim = 0.0  # SMS fallbacks were just added: claim them now
                            continue
                        if stopping or not wait or not self._wait_for_more(notice_id, deadline, report):
                            return report
                        next_claim = 0.0
                except BaseException:
                    self._abandon(inflight, done, report)
                    raise
        finally:
            if self._starter is not None:
                self._starter.close()
                self._starter = None

    def _new_starter(self) -> Starter | None:
        """A Starter on PostgreSQL; on SQLite the caller's thread records the starts."""
        bind = self.session.get_bind()
        if bind.dialect.name != "postgresql":
            return None
        engine = bind.engine if isinstance(bind, Connection) else bind
        # Ahead of their sends only without a rate limit: a send may wait long for its slot.
        ahead = 0 if self.limiter is not None else self.settings.pool_size
        return Starter(Session(bind=engine), self.token, self.clock, self._closing, ahead)

    # -- the caller's thread: the database ------------------------------------------------------

    def _top_up(self, pool: ThreadPoolExecutor, inflight: Inflight, done: Mailbox,
                notice_id: int | None) -> int:
        """Claims enough rows to keep every pool thread busy with a few waiting behind it."""
        claimed = outbox.claim(self.session, self.token, HELD_POOLS * self.settings.pool_size - len(inflight),
                               self.settings.lease_s, self.clock(), notice_id)
        for row in premise.withdraw_stale(self.session, self.token, claimed, self.clock()):  # changed: never sent
            inflight[row.id] = (pool.submit(self._send_into, row, done), row)
            if self._starter is not None and row.channel == CHANNEL_WECHAT and row.openid and row.first_sent_at is None:
                self._starter.expect(row.id)
        return len(claimed)

    def _collect(self, inflight: Inflight, done: Mailbox, report: DispatchReport) -> int:
        """Waits for starts and outcomes; records the starts at once (a send waits on them) and a
        batch of outcomes; returns the SMS fallback rows added."""
        items = [done.get()]
        until = time.monotonic() + (START_WINDOW_S if isinstance(items[0], Start) else BATCH_WINDOW_S)
        while (left := until - time.monotonic()) > 0:
            try:
                items.append(item := done.get(timeout=left))
            except queue.Empty:
                break
            if isinstance(item, Start):  # a send waits on it: gather only a little longer
                until = min(until, time.monotonic() + START_WINDOW_S)
        items.extend(_drain(done))
        starts = [item for item in items if isinstance(item, Start)]
        outcomes = [item for item in items if isinstance(item, Outcome)]
        if starts:
            self._grant(starts)
        for o in outcomes:
            inflight.pop(o.id, None)
        return self._record(outcomes, report) if outcomes else 0

    def _grant(self, starts: list[Start]) -> None:
        """Records the starts; a send whose start could not be recorded is not made."""
        granted: set[int] = set()
        try:
            granted = outbox.mark_tried(self.session, self.token, [start.id for start in starts], self.clock())
        finally:
            for start in starts:  # on an error none is granted: each send gives its row back
                start.granted = start.id in granted
                start.answered.set()

    def _abandon(self, inflight: Inflight, done: Mailbox, report: DispatchReport) -> None:
        """Interrupted (Ctrl-C, a database error): sends not yet started are cancelled or refused
        their start and given back; those under way finish and are recorded when possible, else
        their lease runs out."""
        self._closing.set()
        outcomes = [self._outcome(row, released=True) for future, row in inflight.values() if future.cancel()]
        wait_futures([future for future, _ in inflight.values()])
        outcomes += [item for item in _drain(done) if isinstance(item, Outcome)]
        try:
            self._record(outcomes, report)
        except Exception:
            log.exception(kv("outbox_abandon_unrecorded", rows=len(outcomes)))

    def _record(self, outcomes: list[Outcome], report: DispatchReport) -> int:
        added = outbox.record(self.session, self.token, outcomes, self.policy, self.clock(), self._rng)
        for o in outcomes:
            if o.sent:
                report.sent += 1
            elif o.unknown:
                report.unknown += 1
            elif o.transient and o.attempts < self.policy.max_attempts or o.released:
                report.retried += 1
            else:
                report.failed += 1
        report.fallbacks += added
        return added

    def _wait_for_more(self, notice_id: int | None, deadline: float | None, report: DispatchReport) -> bool:
        """Sleeps until the next row may be due; False when nothing is left to wait for."""
        now = self.clock()
        report.expired_leases += outbox.expire_leases(self.session, now)
        due = outbox.next_due(self.session, notice_id, now)
        if due is None:
            return False
        pause = min(max((due - now).total_seconds(), MIN_SLEEP_S), MAX_SLEEP_S)
        if deadline is not None:
            pause = min(pause, max(deadline - time.monotonic(), 0))
        time.sleep(pause)
        return True

    # -- pool threads: the providers ------------------------------------------------------------

    def _begin(self, row: Claimed) -> bool:
        """Waits until the database thread has recorded that this row's request leaves now; False
        when it could not (the run interrupted, the row no longer ours): then it is not sent."""
        if self._starter is not None:
            start = self._starter.begin(row.id)
        else:
            start = Start(row.id)
            self._mailbox.put(start)
        while not start.answered.wait(START_POLL_S):
            if self._closing.is_set():
                return False
        return start.granted

    def _send_into(self, row: Claimed, done: Mailbox) -> None:
        try:
            done.put(self._send(row))
        except Exception as exc:  # a bug must not leave the row unrecorded: retry it later
            log.exception(kv("outbox_send_crashed", id=row.id))
            done.put(self._outcome(row, error=f"内部错误 {type(exc).__name__}", transient=True))
        finally:
            if self._starter is not None:
                self._starter.settle(row.id)

    def _send(self, row: Claimed) -> Outcome:
        # Half the lease for waiting on the rate limit, half for the call itself.
        deadline = time.monotonic() + self.settings.lease_s / 2
        if self.limiter is not None and not self.limiter.wait(row.channel, deadline):
            return self._outcome(row, released=True)
        if row.channel == CHANNEL_WECHAT:
            return self._send_wechat(row)
        return self._send_sms(row)

    def _send_wechat(self, row: Claimed) -> Outcome:
        template = self.templates[row.kind].wechat
        if not row.openid:
            return self._outcome(row, error="学员未绑定微信或已取消关注", transient=False)
        if not template.template_id:
            return self._outcome(row, error="未配置微信模板", transient=False)
        started = self.clock()
        if row.first_sent_at is not None and started >= row.first_sent_at + outbox.RESEND_WINDOW:
            return self._outcome(row, error=outbox.UNKNOWN_FATE, unknown=True)
        if not self._begin(row):
            return self._outcome(row, released=True)
        try:
            msgid = self.wechat.send_template(row.openid, template.template_id, template.render(row.values),
                                              url=row.link, client_msg_id=outbox.client_msg_id(row.id))
        except WeChatApiError as exc:
            left = isinstance(exc, WeChatUnavailable) and exc.may_have_left
            log.info(kv("outbox_wechat_error", id=row.id, to=short_openid(row.openid), errcode=exc.errcode,
                        transient=exc.transient, may_have_left=left))
            return self._outcome(row, error=wechat_error_text(exc.errcode, exc.errmsg), transient=exc.transient,
                                 errcode=exc.errcode, openid=row.openid,
                                 first_sent_at=row.first_sent_at or (started if left else None))
        log.info(kv("outbox_sent", id=row.id, channel="wechat", to=short_openid(row.openid)))
        return self._outcome(row, sent=True, message_id=str(msgid))

    def _send_sms(self, row: Claimed) -> Outcome:
        template = self.templates[row.kind].sms
        if not self._begin(row):
            return self._outcome(row, released=True)
        started = self.clock()
        try:
            message_id = self.sms.send(row.phone, template.template_code, template.render(row.values),
                                       ref=outbox.client_msg_id(row.id))
        except SmsError as exc:
            log.info(kv("outbox_sms_error", id=row.id, to=mask_phone(row.phone), code=exc.code,
                        transient=exc.transient, may_have_left=exc.may_have_left))
            if exc.may_have_left:  # the provider may have accepted it: never sent again by itself
                return self._outcome(row, error=f"{outbox.SMS_UNKNOWN_FATE}（{exc.code}）", unknown=True,
                                     first_sent_at=row.first_sent_at or started)
            return self._outcome(row, error=f"短信 {exc.code}: {exc.reason}", transient=exc.transient)
        log.info(kv("outbox_sent", id=row.id, channel="sms", to=mask_phone(row.phone)))
        return self._outcome(row, sent=True, message_id=message_id)

    @staticmethod
    def _outcome(row: Claimed, *, sent: bool = False, message_id: str | None = None, error: str | None = None,
                 transient: bool = False, released: bool = False, unknown: bool = False,
                 errcode: int | None = None, openid: str | None = None,
                 first_sent_at: datetime | None = None) -> Outcome:
        return Outcome(id=row.id, channel=row.channel, trainee_id=row.trainee_id, notice_id=row.notice_id,
                       attempts=row.attempts, sent=sent, message_id=message_id, error=error, transient=transient,
                       released=released, unknown=unknown, errcode=errcode, openid=openid,
                       first_sent_at=first_sent_at or row.first_sent_at)


def _drain(done: Mailbox) -> list[Outcome | Start]:
    """What is in the mailbox now, without waiting."""
    items: list[Outcome | Start] = []
    while True:
        try:
            items.append(done.get_nowait())
        except queue.Empty:
            return items


# What staff read beside a failed template message (the delivery table): WeChat's code explained,
# its own words kept for whoever asks WeChat about it.
WECHAT_ERRORS = {
    -1: "微信系统繁忙",
    40001: "access_token 无效，请检查公众号 AppSecret",
    40003: "OpenID 无效（不是本公众号的用户）",
    42001: "access_token 已过期",
    43004: "学员未关注公众号",
    43101: "学员拒收此类模板消息",
    45009: "今日模板消息已达上限",
}


def wechat_error_text(errcode: int | None, errmsg: str) -> str:
    meaning = WECHAT_ERRORS.get(errcode) if errcode is not None else None
    return f"微信 {errcode}（{meaning}）: {errmsg}" if meaning else f"微信 {errcode}: {errmsg}"
