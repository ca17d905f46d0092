"""Notices and their delivery wired once per app: the templates file, the SMS backend, dispatchers.

The app builds one `NoticeDesk` from its settings and shared clients; staff commands and the
scheduler's jobs go through it. The templates file is read, and an SMS provider's SDK imported,
only when first needed, so web workers that never send pay for neither.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import cached_property

import redis as redis_lib
from requests.adapters import HTTPAdapter
from sqlalchemy.orm import Session

from models import Notice, TrainingClass
from services import keys
from services.db import transaction
from services.identity import audit
from services.logfmt import kv
from services.notices import notice_templates, notices, outbox
from services.notices.dispatcher import Dispatcher
from services.notices.notice_templates import KindTemplates
from services.notices.settings import DispatchSettings, NoticeSettings
from services.notices.sms import SmsBackend, SmsRecorder, build_backend
from services.ratelimit import RateLimiter
from services.school.classes import find_class
from services.timeutil import utcnow
from services.wechat_api import WeChatApi


@dataclass(frozen=True)
class Resent:
    """What `retry_texts` did for one notice."""

    notice: Notice
    requeued: int  # failed texts made due again, sent before retry_texts returned
    unknown: int  # texts of unknown fate: maybe delivered, so not resent
    counts: dict[str, dict[str, int]]  # the notice's rows by channel and state, after


log = logging.getLogger(__name__)

# A nudge no scheduler took (none leads) lapses: the next leader's first run sends anyway.
NUDGE_TTL_S = 60


def rate_burst(settings: DispatchSettings) -> int:
    """Sends that may leave at once under the rate limit: a tenth of a second's worth, at most one per
    send thread (so no second in any window holds more than 110 % of the rate). With none (a burst of
    one), the pool's threads, all asking for the one next slot, asked Redis again and again: at 500/s
    the dispatcher spent 3,100 µs of CPU a send instead of 1,600 and sent 380 a second."""
    return max(1, min(settings.pool_size, int(settings.rate_per_s / 10)))


class NoticeDesk:
    def __init__(self, settings: NoticeSettings, session: Session, wechat: WeChatApi, redis: redis_lib.Redis,
                 sms_recorder: SmsRecorder | None = None):
        self.settings = settings
        self.session = session
        self.wechat = wechat
        self.redis = redis
        self.sms_recorder = sms_recorder
        self._http_pool = 0
        self._lock = threading.Lock()

    @cached_property
    def templates(self) -> dict[str, KindTemplates]:
        return notice_templates.load(self.settings.templates_file, self.settings.template_ids)

    @cached_property
    def sms(self) -> SmsBackend:
        return build_backend(self.settings.sms, self.redis, self.sms_recorder)

    def dispatcher(self, clock: Callable[[], datetime] = utcnow, pool_size: int | None = None,
                   scheduler: bool = False) -> Dispatcher:
        """A dispatcher over the shared clients, with its own number of send threads if given;
        `scheduler` for the scheduler's runs (their claims are released when another scheduler leads)."""
        settings = self.settings.dispatch
        if pool_size is not None:
            settings = replace(settings, pool_size=pool_size)
        self._size_http_pool(settings.pool_size)
        limiter = RateLimiter(self.redis, keys.outbox_rate, settings.rate_per_s, rate_burst(settings)) \
            if settings.rate_per_s > 0 else None
        return Dispatcher(self.session, self.wechat, self.sms, self.templates, settings, limiter, clock, scheduler)

    def class_open(self, class_code: str, actor: str, now: datetime | None = None) -> Notice:
        """Staff send the class-open notice (`notify class-open`, the class page's 发送): its rows
        and the audit record in one transaction; the dispatcher sends them after."""
        with transaction(self.session):
            code = find_class(self.session, class_code).code
            notice = notices.class_open(self.session, self.templates, code, actor, self.settings.links.learn, now)
            audit.record(self.session, actor, "class_notified", f"class:{code}",
                         f"开班通知：学员 {notice.recipients} 人")
        return notice

    def nudge(self) -> None:
        """Asks the leading scheduler to dispatch now rather than at its next run (up to
        DISPATCH_INTERVAL_S later). A Redis out of reach loses only that: the next run sends."""
        try:
            self.redis.set(keys.outbox_nudge(), "1", ex=NUDGE_TTL_S)
        except redis_lib.RedisError as exc:
            log.warning(kv("outbox_nudge_lost", error=type(exc).__name__))

    def class_reminders(self, now: datetime | None = None) -> list[Notice]:
        return notices.class_reminders(self.session, self.templates, self.settings.links.learn, now)

    def registration_expiry(self, now: datetime | None = None) -> Notice | None:
        return notices.registration_expiry(self.session, self.templates, self.settings.links.learn, now)

    def hours_complete(self, now: datetime | None = None) -> list[Notice]:
        return notices.hours_complete(self.session, self.templates, self.settings.links.exam, now)

    def at_risk_reminder(self, expiring: dict[int, date], actor: str, now: datetime | None = None) -> Notice | None:
        return notices.at_risk_reminder(self.session, self.templates, expiring, actor, self.settings.links.learn,
                                        now or utcnow())

    def counts(self, notice_id: int) -> dict[str, dict[str, int]]:
        return notices.counts(self.session, notice_id)

    def retry_texts(self, class_code: str, actor: str,
                    now: datetime | None = None) -> tuple[TrainingClass, list[Resent]]:
        """Staff send again the failed texts of the class's notices to trainees they have not
        reached (recorded, in the requeue's transaction), and wait for them; texts of unknown
        fate are left alone. ClassError for an unknown class, NoticeError when no SMS provider is
        configured."""
        if self.sms.name == "unconfigured":
            raise notices.NoticeError("未配置短信服务（SMS_BACKEND=console）：请先配置 SMS_BACKEND=aliyun 或 tencent。")
        with transaction(self.session):
            training_class, sent = notices.class_notices(self.session, class_code)
            again = {n.id: outbox.requeue_failed_texts(self.session, n.id, now or utcnow()) for n in sent}
            audit.record(self.session, actor, "texts_retried", f"class:{training_class.code}",
                         f"重发失败短信 {sum(again.values())} 条")
        results = []
        for notice in sent:
            unknown = notices.counts(self.session, notice.id).get("sms", {}).get("unknown", 0)
            if again[notice.id]:
                self.dispatcher().run(notice_id=notice.id, wait=True)
            results.append(Resent(notice, again[notice.id], unknown, notices.counts(self.session, notice.id)))
        return training_class, results

    def _size_http_pool(self, size: int) -> None:
        # requests keeps 10 connections per host: with more send threads the rest would reconnect
        # for every message. wechatpy exposes its session only as `_http`.
        with self._lock:
            if size > max(self._http_pool, 10):
                self.wechat._http.mount(self.wechat.api_base, HTTPAdapter(pool_connections=1, pool_maxsize=size))
                self.wechat.size_pool(size)
                self._http_pool = size
