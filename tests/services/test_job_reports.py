"""WeChat's `success` reports: queued by the callback in Redis, recorded by the scheduler in batches.

The real Redis, both databases, the fake WeChat API for the sends the reports are about.
"""
from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy import select

from models import OutboxMessage, db
from models.notices import CHANNEL_WECHAT
from services import keys
from services.notices import job_reports
from services.timeutil import utcnow
from tests.conftest import TEST_TOKEN
from tests.notify_util import CLASS_CODE, class_with_trainees, notify_settings, openid
from tests.wechat_util import WeChatServer


def _job_finish(who: str, msgid: str, status: str = "success") -> str:
    return (f"<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[{who}]]></FromUserName>"
            f"<CreateTime>{int(utcnow().timestamp())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>{msgid}</MsgID>"
            f"<Status><![CDATA[{status}]]></Status></xml>")


@pytest.fixture
def sent(make_app, fake_wechat):
    """An app whose class-open notice went to three bound trainees: (app, {trainee id: msgid})."""
    app = make_app(**notify_settings(fake_wechat))
    class_with_trainees(app, bound=3, unbound=0)
    with app.app_context():
        desk = app.extensions["notice_desk"]
        notice = desk.class_open(CLASS_CODE, "test")
        desk.dispatcher().run(notice_id=notice.id, wait=True, max_seconds=20)
        msgids = dict(db.session.execute(select(OutboxMessage.trainee_id, OutboxMessage.provider_message_id)
                                         .where(OutboxMessage.channel == CHANNEL_WECHAT)).all())
    assert len(msgids) == 3 and all(msgids.values())
    return app, msgids


def delivered(app) -> dict:
    with app.app_context():
        return dict(db.session.execute(select(OutboxMessage.trainee_id, OutboxMessage.delivered_at)
                                       .where(OutboxMessage.channel == CHANNEL_WECHAT)).all())


def record(app) -> job_reports.Recorded:
    with app.app_context():
        return job_reports.record(db.session, app.extensions["redis"])


def pending(redis) -> int:
    return redis.xpending(keys.outbox_job_reports(), job_reports.GROUP)["pending"]


def test_success_reports_wait_in_redis_then_are_recorded_together_at_their_own_time(sent, redis):
    app, msgids = sent
    wechat = WeChatServer(app.test_client(), TEST_TOKEN)
    before = utcnow()
    for n, msgid in enumerate((msgids[t] for t in sorted(msgids)), 1):
        assert wechat.post(_job_finish(openid(n), msgid)).data == b"success"
    after = utcnow()

    assert set(delivered(app).values()) == {None}  # nothing written by the callback itself
    assert redis.xlen(keys.outbox_job_reports()) == 3

    assert record(app) == job_reports.Recorded(reports=3, rows=3)
    times = delivered(app)
    assert all(before.replace(microsecond=0) <= t <= after for t in times.values()), (before, times, after)
    assert redis.xlen(keys.outbox_job_reports()) == 0 and pending(redis) == 0
    assert record(app) == job_reports.Recorded(0, 0)


def test_a_repeated_report_keeps_the_first_delivery_time(sent, redis):
    """WeChat retries a report it got no answer for: it is queued again, and harmless."""
    app, msgids = sent
    trainee_id, msgid = min(msgids.items())
    wechat = WeChatServer(app.test_client(), TEST_TOKEN)
    wechat.post(_job_finish(openid(1), msgid))
    record(app)
    first = delivered(app)[trainee_id]
    time.sleep(1.1)

    wechat.post(_job_finish(openid(1), msgid))
    assert record(app) == job_reports.Recorded(reports=1, rows=1)
    assert delivered(app)[trainee_id] == first


def test_reports_a_dead_run_read_and_never_committed_are_recorded_by_the_next(sent, redis):
    app, msgids = sent
    record(app)  # the group exists from the first run on
    wechat = WeChatServer(app.test_client(), TEST_TOKEN)
    for n, (_, msgid) in enumerate(sorted(msgids.items()), 1):
        wechat.post(_job_finish(openid(n), msgid))
    # A scheduler read two of them, then was killed before its transaction committed.
    read = redis.xreadgroup(job_reports.GROUP, job_reports.CONSUMER, {keys.outbox_job_reports(): ">"}, count=2)
    assert len(read[0][1]) == 2 and pending(redis) == 2

    assert record(app) == job_reports.Recorded(reports=3, rows=3)
    assert None not in delivered(app).values()
    assert pending(redis) == 0 and redis.xlen(keys.outbox_job_reports()) == 0


def test_an_unreadable_entry_is_dropped_with_a_warning_and_the_rest_recorded(sent, redis, caplog):
    app, msgids = sent
    trainee_id, msgid = min(msgids.items())
    redis.xadd(keys.outbox_job_reports(), {"x": "1"})
    redis.xadd(keys.outbox_job_reports(), {"m": msgid, "t": "not a time"})
    WeChatServer(app.test_client(), TEST_TOKEN).post(_job_finish(openid(1), msgid))

    with caplog.at_level(logging.WARNING):
        assert record(app) == job_reports.Recorded(reports=3, rows=1)
    assert caplog.text.count("job_report_unreadable") == 2
    assert delivered(app)[trainee_id] is not None
    assert redis.xlen(keys.outbox_job_reports()) == 0


def test_with_redis_unreachable_the_callback_records_the_report_itself(sent, make_app, caplog):
    app, msgids = sent
    trainee_id, msgid = min(msgids.items())
    # The same database, but a Redis that refuses connections (nothing listens on port 1).
    cut_off = make_app(REDIS_URL="redis://127.0.0.1:1/0")

    with caplog.at_level(logging.INFO):
        r = WeChatServer(cut_off.test_client(), TEST_TOKEN).post(_job_finish(openid(1), msgid))
    assert r.status_code == 200 and r.data == b"success"
    assert delivered(app)[trainee_id] is not None
    assert "outbox_state=sent" in caplog.text


def test_a_refusal_is_still_recorded_at_once(sent, redis):
    app, msgids = sent
    trainee_id, msgid = min(msgids.items())
    WeChatServer(app.test_client(), TEST_TOKEN).post(_job_finish(openid(1), msgid, "failed:user block"))
    with app.app_context():
        state = db.session.scalar(select(OutboxMessage.state).where(OutboxMessage.provider_message_id == msgid))
    assert state == "failed"
    assert redis.exists(keys.outbox_job_reports()) == 0
