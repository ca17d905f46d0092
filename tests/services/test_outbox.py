"""The class-open notice through the outbox, against the fake WeChat API and the real databases."""
from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from models import OutboxMessage, WechatUser, db
from models.notices import CHANNEL_SMS, CHANNEL_WECHAT
from services.notices import outbox
from services.timeutil import utcnow
from tests.fakewechat import Delay, HttpError
from tests.notify_util import (
    CLASS_CODE,
    CLASS_NAME,
    TEMPLATE_PATH,
    TOKEN_PATH,
    class_with_trainees,
    notify_settings,
    openid,
    outbox_states,
    phone,
    sms_sent,
    template_recipients,
)

BUSY = {"errcode": -1, "errmsg": "system error"}
QUOTA = {"errcode": 45009, "errmsg": "reach max api daily quota limit"}


@pytest.fixture
def notify_app(make_app, fake_wechat):
    return make_app(**notify_settings(fake_wechat))


def notify(app, code: str = CLASS_CODE, **dispatch):
    with app.app_context():
        tools = app.extensions["notice_desk"]
        notice = tools.class_open(code, "test")
        report = tools.dispatcher(**dispatch).run(notice_id=notice.id, wait=True, max_seconds=20)
        return notice.id, report


def test_bound_trainees_get_the_template_message_and_the_others_an_sms(notify_app, fake_wechat, redis, caplog):
    class_with_trainees(notify_app, bound=2, unbound=1)
    caplog.set_level(logging.INFO)

    notify(notify_app)

    assert outbox_states(notify_app) == {(CHANNEL_WECHAT, "sent"): 2, (CHANNEL_SMS, "sent"): 1}
    calls = fake_wechat.calls(TEMPLATE_PATH)
    assert sorted(call.json["touser"] for call in calls) == [openid(1), openid(2)]
    assert calls[0].json["template_id"] == "tmpl-class-open"
    assert calls[0].json["url"] == "https://wx.example.test/h5/learn"
    assert calls[0].json["data"] == {
        "thing1": {"value": CLASS_NAME}, "time2": {"value": "2027年3月1日 09:00"},
        "thing3": {"value": "苏州市姑苏区人民路100号培训楼"},
    }
    [sms] = sms_sent(redis)
    assert sms.body["phone"] == "139****0003" and sms.body["template_code"] == "SMS_CLASS_OPEN"
    assert sms.body["params"]["name"] == "学员3" and sms.body["params"]["class"] == CLASS_NAME
    assert "outbox_sent" in caplog.text and "139****0003" in caplog.text
    assert phone(3) not in caplog.text and openid(1) not in caplog.text


def test_transient_errors_are_retried_with_backoff_until_sent(notify_app, fake_wechat):
    class_with_trainees(notify_app, bound=1, unbound=0)
    fake_wechat.script(TEMPLATE_PATH, BUSY, QUOTA, HttpError(502))

    _, report = notify(notify_app)

    assert len(fake_wechat.calls(TEMPLATE_PATH)) == 4
    assert (report.sent, report.retried, report.failed) == (1, 3, 0)
    with notify_app.app_context():
        row = db.session.scalars(select(OutboxMessage)).one()
        assert (row.state, row.attempts, row.last_error) == ("sent", 4, None)
        assert row.provider_message_id


def test_a_timeout_is_retried(make_app, fake_wechat):
    app = make_app(**notify_settings(fake_wechat, WECHAT_TIMEOUT_S=1))
    class_with_trainees(app, bound=1, unbound=0)
    fake_wechat.script(TEMPLATE_PATH, Delay(1.5))

    notify(app)

    assert len(fake_wechat.calls(TEMPLATE_PATH)) == 2
    assert outbox_states(app) == {(CHANNEL_WECHAT, "sent"): 1}


def test_retries_are_spaced_by_exponential_backoff(make_app, fake_wechat):
    app = make_app(**notify_settings(fake_wechat, OUTBOX_RETRY_BASE_S=60))
    class_with_trainees(app, bound=1, unbound=0)
    fake_wechat.script(TEMPLATE_PATH, BUSY)
    started = utcnow()

    with app.app_context():
        tools = app.extensions["notice_desk"]
        tools.dispatcher().run(notice_id=tools.class_open(CLASS_CODE, "test").id)
        row = db.session.scalars(select(OutboxMessage)).one()

    assert row.state == "pending" and row.attempts == 1 and row.last_error.startswith("微信 -1（微信系统繁忙）")
    # First retry: 60 s base, half of it random.
    assert started + timedelta(seconds=29) < row.next_try_at < utcnow() + timedelta(seconds=61)
    assert 240 <= outbox.RetryPolicy(6, 60).delay(4, random.Random(1)) <= 480  # fourth retry: 480 s, jittered


@pytest.mark.parametrize("errcode", [43004, 40003])
def test_a_permanent_wechat_failure_falls_back_to_sms(notify_app, fake_wechat, redis, errcode):
    class_with_trainees(notify_app, bound=1, unbound=0)
    fake_wechat.script(TEMPLATE_PATH, {"errcode": errcode, "errmsg": "refused"})

    _, report = notify(notify_app)

    assert len(fake_wechat.calls(TEMPLATE_PATH)) == 1
    assert outbox_states(notify_app) == {(CHANNEL_WECHAT, "failed"): 1, (CHANNEL_SMS, "sent"): 1}
    assert report.fallbacks == 1
    assert [entry.body["phone"] for entry in sms_sent(redis)] == ["139****0001"]


def test_retries_spent_fall_back_to_sms(make_app, fake_wechat, redis):
    app = make_app(**notify_settings(fake_wechat, OUTBOX_MAX_ATTEMPTS=2))
    class_with_trainees(app, bound=1, unbound=0)
    fake_wechat.script(TEMPLATE_PATH, BUSY, BUSY, BUSY)

    notify(app)

    assert len(fake_wechat.calls(TEMPLATE_PATH)) == 2
    assert outbox_states(app) == {(CHANNEL_WECHAT, "failed"): 1, (CHANNEL_SMS, "sent"): 1}
    assert len(sms_sent(redis)) == 1


def test_an_expired_token_is_refreshed_once_and_the_message_sent_once(notify_app, fake_wechat):
    class_with_trainees(notify_app, bound=1, unbound=0)
    fake_wechat.script(TEMPLATE_PATH, {"errcode": 42001, "errmsg": "access_token expired"})

    notify(notify_app)

    calls = fake_wechat.calls(TEMPLATE_PATH)
    assert len(calls) == 2 and calls[0].query["access_token"] != calls[1].query["access_token"]
    assert len(fake_wechat.calls(TOKEN_PATH)) == 2
    with notify_app.app_context():
        assert db.session.scalars(select(OutboxMessage.attempts)).one() == 1
    assert outbox_states(notify_app) == {(CHANNEL_WECHAT, "sent"): 1}


def test_a_trainee_who_unfollowed_since_gets_an_sms_without_a_wechat_call(notify_app, fake_wechat, redis):
    class_with_trainees(notify_app, bound=1, unbound=0)
    with notify_app.app_context():
        notice = notify_app.extensions["notice_desk"].class_open(CLASS_CODE, "test")
        db.session.execute(update(WechatUser).values(subscribed=False))
        db.session.commit()
        notify_app.extensions["notice_desk"].dispatcher().run(notice_id=notice.id, wait=True, max_seconds=10)

    assert fake_wechat.calls(TEMPLATE_PATH) == []
    assert outbox_states(notify_app) == {(CHANNEL_WECHAT, "failed"): 1, (CHANNEL_SMS, "sent"): 1}


def test_a_second_notify_sends_nothing(notify_app, fake_wechat, redis):
    class_with_trainees(notify_app, bound=2, unbound=1)
    first_id, _ = notify(notify_app)

    second_id, report = notify(notify_app)

    assert second_id == first_id and report.sent == 0
    assert len(fake_wechat.calls(TEMPLATE_PATH)) == 2 and len(sms_sent(redis)) == 1
    assert outbox_states(notify_app) == {(CHANNEL_WECHAT, "sent"): 2, (CHANNEL_SMS, "sent"): 1}


def test_a_trainee_added_to_the_class_later_is_reached_by_the_next_run_only(notify_app, fake_wechat):
    class_with_trainees(notify_app, bound=1, unbound=0)
    notify(notify_app)
    class_with_trainees(notify_app, bound=1, unbound=0, first=2)

    notify(notify_app)

    assert template_recipients(fake_wechat) == {openid(1): 1, openid(2): 1}


def test_a_trainee_texted_before_binding_is_not_messaged_again_after_binding(notify_app, fake_wechat, redis):
    [trainee_id] = class_with_trainees(notify_app, bound=0, unbound=1)
    notify(notify_app)
    with notify_app.app_context():
        db.session.add(WechatUser(openid=openid(1), subscribed=True, trainee_id=trainee_id))
        db.session.commit()

    notify(notify_app)

    assert fake_wechat.calls(TEMPLATE_PATH) == [] and len(sms_sent(redis)) == 1


def test_an_unknown_class_is_refused(notify_app):
    from services.school.classes import ClassError

    with notify_app.app_context(), pytest.raises(ClassError, match="不存在"):
        notify_app.extensions["notice_desk"].class_open("NOPE-1", "test")


def test_a_row_claimed_but_never_tried_goes_back_to_pending_after_its_lease_and_is_sent_once(notify_app,
                                                                                          fake_wechat):
    class_with_trainees(notify_app, bound=1, unbound=0)
    with notify_app.app_context():
        tools = notify_app.extensions["notice_desk"]
        notice = tools.class_open(CLASS_CODE, "test")
        # A dispatcher claims the row, then dies before its request could leave.
        [claimed] = outbox.claim(db.session, "dead-dispatcher", 10, lease_s=60, now=utcnow())
        assert tools.dispatcher().run(notice_id=notice.id).sent == 0  # still leased: left alone
        later = utcnow() + timedelta(seconds=61)  # the clock driven past the lease, for both steps
        assert outbox.expire_leases(db.session, later) == 1
        row = db.session.get(OutboxMessage, claimed.id)
        assert (row.state, row.attempts, row.claimed_by) == ("pending", 0, None)
        tools.dispatcher(lambda: later).run(notice_id=notice.id, wait=True)
        db.session.refresh(row)
        assert row.state == "sent"

    assert template_recipients(fake_wechat) == {openid(1): 1}


def test_a_new_leader_takes_back_at_once_what_the_dead_leaders_runs_held_and_nothing_is_sent_twice(notify_app,
                                                                                                   fake_wechat):
    from scheduler import jobs

    class_with_trainees(notify_app, bound=3, unbound=0)
    with notify_app.app_context():
        tools = notify_app.extensions["notice_desk"]
        notice = tools.class_open(CLASS_CODE, "test")
        dead = tools.dispatcher(scheduler=True).token  # a run of the leader killed mid-push
        web = tools.dispatcher().token                 # a console's inline send, alive
        assert dead.startswith(outbox.SCHEDULER_TOKEN_PREFIX) and len(dead) == 32 and len(web) == 32
        now = utcnow()
        untried, tried = outbox.claim(db.session, dead, 2, lease_s=60, now=now)
        [inline] = outbox.claim(db.session, web, 1, lease_s=60, now=now)
        assert outbox.mark_tried(db.session, dead, [tried.id], now) == {tried.id}  # its request may have left

        jobs.bind(notify_app)
        later = now + timedelta(seconds=5)  # long before the leases (60 s) end
        assert jobs.take_over(later) == 2
        states = {r.id: (r.state, r.claimed_by) for r in db.session.scalars(select(OutboxMessage))}
        assert states[untried.id] == ("pending", None) and states[tried.id] == ("pending", None)
        assert states[inline.id] == ("sending", web)  # not a scheduler's: left to its lease
        # Were the old leader still alive, its sends could not start: the rows are no longer its.
        assert outbox.mark_tried(db.session, dead, [untried.id, tried.id], now) == set()

        tools.dispatcher(lambda: later, scheduler=True).run(notice_id=notice.id)
    # Both resent by the new leader; the one that may have left keeps its client_msg_id (WeChat
    # delivers it once); the console's own row waits for its sender.
    assert template_recipients(fake_wechat) == {openid(1): 1, openid(2): 1}
    ids = {call.json["client_msg_id"] for call in fake_wechat.calls(TEMPLATE_PATH)}
    assert outbox.client_msg_id(tried.id) in ids


def test_a_text_tried_and_left_sending_past_its_lease_becomes_unknown_and_is_not_resent(notify_app, redis):
    class_with_trainees(notify_app, bound=0, unbound=1)
    with notify_app.app_context():
        tools = notify_app.extensions["notice_desk"]
        notice = tools.class_open(CLASS_CODE, "test")
        # The dispatcher recorded that the request leaves, then died: it may have reached the provider.
        [claimed] = outbox.claim(db.session, "dead-dispatcher", 10, lease_s=60, now=utcnow())
        assert outbox.mark_tried(db.session, "dead-dispatcher", [claimed.id], utcnow()) == {claimed.id}
        later = utcnow() + timedelta(seconds=61)  # the clock driven past the lease, for both steps
        assert outbox.expire_leases(db.session, later) == 1
        tools.dispatcher(lambda: later).run(notice_id=notice.id, wait=True)
        row = db.session.get(OutboxMessage, claimed.id)
        assert row.state == "unknown" and "人工核实" in row.last_error and row.first_sent_at is not None

    assert sms_sent(redis) == []


def test_a_template_message_tried_by_a_dead_dispatcher_is_resent_once_inside_wechats_window(notify_app,
                                                                                            fake_wechat):
    class_with_trainees(notify_app, bound=2, unbound=0)
    with notify_app.app_context():
        tools = notify_app.extensions["notice_desk"]
        notice = tools.class_open(CLASS_CODE, "test")
        claimed = outbox.claim(db.session, "dead-dispatcher", 10, lease_s=60, now=utcnow())
        tried = utcnow()
        outbox.mark_tried(db.session, "dead-dispatcher", [row.id for row in claimed], tried)
        # The first request reached WeChat before the dispatcher died.
        fake_wechat_send(notify_app, fake_wechat, claimed[0])
        # One row's lease ends inside the window, the other's (much later) outside it.
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id == claimed[1].id)
                           .values(tried_at=tried - outbox.RESEND_WINDOW))
        db.session.commit()
        later = tried + timedelta(seconds=61)  # the clock driven past the lease, for both steps
        assert outbox.expire_leases(db.session, later) == 2
        tools.dispatcher(lambda: later).run(notice_id=notice.id, wait=True)
        states = {row.id: db.session.get(OutboxMessage, row.id).state for row in claimed}

    assert states == {claimed[0].id: "sent", claimed[1].id: "unknown"}
    # Delivered once: the resend carried the same client_msg_id.
    assert fake_wechat.delivered == [(claimed[0].openid, "tmpl-class-open")]
    assert len(fake_wechat.calls(TEMPLATE_PATH)) == 2


def fake_wechat_send(app, fake_wechat, row) -> None:
    with app.app_context():
        app.extensions["wechat_api"].send_template(row.openid, "tmpl-class-open", {},
                                                   client_msg_id=outbox.client_msg_id(row.id))


def test_two_dispatchers_on_postgresql_send_each_row_once(make_app, fake_wechat, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SKIP LOCKED claims are PostgreSQL's; SQLite runs one dispatcher")
    apps = [make_app(**notify_settings(fake_wechat)) for _ in range(2)]
    class_with_trainees(apps[0], bound=60, unbound=0)
    with apps[0].app_context():
        notice_id = apps[0].extensions["notice_desk"].class_open(CLASS_CODE, "test").id
    fake_wechat.script(TEMPLATE_PATH, *[Delay(0.01)] * 60)  # slow enough for both to be busy at once
    barrier, reports = threading.Barrier(2), []

    def dispatch(app):
        with app.app_context():
            barrier.wait()
            dispatcher = app.extensions["notice_desk"].dispatcher(pool_size=3)
            reports.append(dispatcher.run(notice_id=notice_id, wait=True))

    threads = [threading.Thread(target=dispatch, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert template_recipients(fake_wechat) == {openid(n): 1 for n in range(1, 61)}
    assert sorted(report.sent for report in reports)[0] > 0  # both took part
    assert sum(report.sent for report in reports) == 60
    assert outbox_states(apps[0]) == {(CHANNEL_WECHAT, "sent"): 60}


def test_a_claim_takes_at_most_the_rows_asked_for_and_never_a_claimed_one(notify_app):
    class_with_trainees(notify_app, bound=0, unbound=10)
    with notify_app.app_context():
        notify_app.extensions["notice_desk"].class_open(CLASS_CODE, "test")
        first = outbox.claim(db.session, "first", 3, lease_s=60, now=utcnow())
        second = outbox.claim(db.session, "second", 100, lease_s=60, now=utcnow())
        third = outbox.claim(db.session, "third", 100, lease_s=60, now=utcnow())

    assert (len(first), len(second), third) == (3, 7, [])
    assert not {row.id for row in first} & {row.id for row in second}
    assert first[0].phone and first[0].values["class_name"] == CLASS_NAME and first[0].attempts == 1


def test_an_interrupted_dispatcher_gives_back_the_rows_it_had_not_started(notify_app, fake_wechat):
    class_with_trainees(notify_app, bound=6, unbound=0)
    fake_wechat.script(TEMPLATE_PATH, *[Delay(0.5)] * 6)
    with notify_app.app_context():
        tools = notify_app.extensions["notice_desk"]
        notice = tools.class_open(CLASS_CODE, "test")
        def interrupt_once_two_sends_are_out() -> None:  # Ctrl-C mid-batch, however busy the machine
            deadline = time.monotonic() + 20
            while len(fake_wechat.calls(TEMPLATE_PATH)) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=interrupt_once_two_sends_are_out, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            tools.dispatcher(pool_size=2).run(notice_id=notice.id)
        pending_attempts = db.session.scalars(
            select(OutboxMessage.attempts).where(OutboxMessage.state == "pending")).all()

    # Two sends under way finished and were recorded; two claimed but not started went back.
    assert len(fake_wechat.calls(TEMPLATE_PATH)) == 2
    assert outbox_states(notify_app) == {(CHANNEL_WECHAT, "sent"): 2, (CHANNEL_WECHAT, "pending"): 4}
    assert pending_attempts == [0, 0, 0, 0]
