"""Template messages as WeChat really behaves: unknown following, refusals, slow answers, job reports.

Against the fake WeChat HTTP API (which dedups by client_msg_id as WeChat does), the real Redis
and both databases.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from models import OutboxMessage, WechatUser, db
from models.notices import CHANNEL_SMS, CHANNEL_WECHAT
from scheduler import jobs
from services import keys
from services.timeutil import utcnow
from services.wechat_api import WeChatUnavailable
from tests.conftest import TEST_APPID, TEST_TOKEN
from tests.fakewechat import Delay
from tests.notify_util import (
    CLASS_CODE,
    TEMPLATE_PATH,
    class_with_trainees,
    notify_settings,
    openid,
    outbox_states,
    sms_sent,
)
from tests.wechat_util import WeChatServer
from wxapp import config


@pytest.fixture
def notify_app(make_app, fake_wechat):
    return make_app(**notify_settings(fake_wechat))


def notify(app, wait: bool = True, clock=None, **dispatch):
    with app.app_context():
        tools = app.extensions["notice_desk"]
        notice = tools.class_open(CLASS_CODE, "test")
        dispatcher = tools.dispatcher(clock, **dispatch) if clock else tools.dispatcher(**dispatch)
        return notice.id, dispatcher.run(notice_id=notice.id, wait=wait, max_seconds=20)


def timeout_after(seconds: float, app):
    """WECHAT_TIMEOUT_S takes whole seconds; the tests wait less."""
    app.extensions["wechat_api"].timeout = seconds
    return app


def set_following(app, value):
    with app.app_context():
        db.session.execute(update(WechatUser).values(subscribed=value))
        db.session.commit()


def following(app, who: str):
    with app.app_context():
        return db.session.scalar(select(WechatUser.subscribed).where(WechatUser.openid == who))


def test_a_bound_trainee_never_seen_subscribing_gets_the_template_message(notify_app, fake_wechat, redis):
    class_with_trainees(notify_app, bound=2, unbound=0)
    set_following(notify_app, None)  # followed before the service went live: never sent `subscribe`

    notify(notify_app)

    assert sorted(who for who, _ in fake_wechat.delivered) == [openid(1), openid(2)]
    assert outbox_states(notify_app) == {(CHANNEL_WECHAT, "sent"): 2}
    assert sms_sent(redis) == []


def test_a_recorded_unsubscribe_gets_an_sms(notify_app, fake_wechat, redis):
    class_with_trainees(notify_app, bound=2, unbound=0)
    set_following(notify_app, None)
    wechat = WeChatServer(notify_app.test_client(), TEST_TOKEN)
    assert wechat.post(_event(openid(1), "unsubscribe")).status_code == 200

    notify(notify_app)

    assert [who for who, _ in fake_wechat.delivered] == [openid(2)]
    assert outbox_states(notify_app) == {(CHANNEL_WECHAT, "sent"): 1, (CHANNEL_SMS, "sent"): 1}
    assert [e.body["phone"] for e in sms_sent(redis)] == ["139****0001"]


def test_a_template_refused_by_the_user_43101_falls_back_to_sms(notify_app, fake_wechat, redis):
    class_with_trainees(notify_app, bound=2, unbound=0)
    fake_wechat.refused.add(openid(1))

    notify(notify_app)

    assert [who for who, _ in fake_wechat.delivered] == [openid(2)]
    assert outbox_states(notify_app) == {(CHANNEL_WECHAT, "sent"): 1, (CHANNEL_WECHAT, "failed"): 1,
                                         (CHANNEL_SMS, "sent"): 1}
    assert [e.body["phone"] for e in sms_sent(redis)] == ["139****0001"]
    with notify_app.app_context():  # what staff read in the delivery table
        failed = db.session.scalar(select(OutboxMessage.last_error).where(OutboxMessage.state == "failed"))
    assert failed is not None and failed.startswith("微信 43101（学员拒收此类模板消息）")


def test_a_43004_answer_records_the_unfollow_and_texts(notify_app, fake_wechat, redis):
    class_with_trainees(notify_app, bound=1, unbound=0)
    set_following(notify_app, None)
    fake_wechat.not_following.add(openid(1))

    notify(notify_app)

    assert following(notify_app, openid(1)) is False
    assert outbox_states(notify_app) == {(CHANNEL_WECHAT, "failed"): 1, (CHANNEL_SMS, "sent"): 1}


def test_every_template_message_carries_its_rows_client_msg_id(notify_app, fake_wechat):
    class_with_trainees(notify_app, bound=2, unbound=0)

    notify(notify_app)

    with notify_app.app_context():
        ids = db.session.scalars(select(OutboxMessage.id)).all()
    sent = sorted(call.json["client_msg_id"] for call in fake_wechat.calls(TEMPLATE_PATH))
    assert sent == sorted(f"wxapp-outbox-{row_id}" for row_id in ids)


def test_a_send_answered_after_the_timeout_reaches_the_phone_once_and_never_by_sms(make_app, fake_wechat, redis):
    app = timeout_after(0.5, make_app(**notify_settings(fake_wechat)))
    class_with_trainees(app, bound=1, unbound=0)
    fake_wechat.script(TEMPLATE_PATH, Delay(1.5))  # WeChat delivers, then answers after our timeout

    notify(app)

    calls = fake_wechat.calls(TEMPLATE_PATH)
    assert len(calls) == 2 and calls[0].json["client_msg_id"] == calls[1].json["client_msg_id"]
    assert fake_wechat.delivered == [(openid(1), "tmpl-class-open")]
    assert outbox_states(app) == {(CHANNEL_WECHAT, "sent"): 1}
    assert sms_sent(redis) == []


def test_a_slow_answer_every_time_ends_unknown_never_texted(make_app, fake_wechat, redis):
    app = timeout_after(0.3, make_app(**notify_settings(fake_wechat, OUTBOX_MAX_ATTEMPTS=2)))
    class_with_trainees(app, bound=1, unbound=0)
    fake_wechat.template_delay_s = 0.6

    notify(app)

    assert fake_wechat.delivered == [(openid(1), "tmpl-class-open")]
    assert outbox_states(app) == {(CHANNEL_WECHAT, "unknown"): 1}
    assert sms_sent(redis) == []


def test_unknown_fate_past_the_ten_minute_window_is_never_resent(make_app, fake_wechat, redis):
    app = timeout_after(0.5, make_app(**notify_settings(fake_wechat, OUTBOX_RETRY_BASE_S=60)))
    class_with_trainees(app, bound=1, unbound=0)
    fake_wechat.script(TEMPLATE_PATH, Delay(1.0))
    notice_id, _ = notify(app, wait=False)
    with app.app_context():
        row = db.session.scalars(select(OutboxMessage)).one()
        assert row.state == "pending" and row.first_sent_at is not None

    later = utcnow() + timedelta(minutes=11)
    with app.app_context():
        app.extensions["notice_desk"].dispatcher(lambda: later).run(notice_id=notice_id, wait=True, max_seconds=10)

    assert len(fake_wechat.calls(TEMPLATE_PATH)) == 1
    assert outbox_states(app) == {(CHANNEL_WECHAT, "unknown"): 1}
    assert sms_sent(redis) == []


def test_a_connection_refused_never_left_and_is_retried_as_before(make_app, redis):
    app = make_app(WECHAT_API_BASE="http://127.0.0.1:9/", WECHAT_TEMPLATE_CLASS_OPEN="tmpl-class-open",
                   OUTBOX_RATE_PER_S=0, OUTBOX_RETRY_BASE_S=60)
    class_with_trainees(app, bound=1, unbound=0)
    redis.set(keys.access_token(TEST_APPID), "stored-token", ex=600)  # so the send itself is refused
    with app.app_context():
        with pytest.raises(WeChatUnavailable) as refused:
            app.extensions["wechat_api"].send_template(openid(1), "t", {}, client_msg_id="x")
        assert refused.value.may_have_left is False

    notify(app, wait=False)

    with app.app_context():
        row = db.session.scalars(select(OutboxMessage)).one()
        assert (row.state, row.first_sent_at) == ("pending", None)


def test_a_timeout_after_the_request_left_may_have_reached_wechat(make_app, fake_wechat):
    app = timeout_after(0.3, make_app(**notify_settings(fake_wechat)))
    fake_wechat.template_delay_s = 0.6
    with app.app_context():
        with pytest.raises(WeChatUnavailable) as slow:
            app.extensions["wechat_api"].send_template(openid(1), "t", {}, client_msg_id="x")
    assert slow.value.may_have_left is True


def _job_finish(who: str, msgid: str, status: str) -> str:
    return (f"<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[{who}]]></FromUserName>"
            f"<CreateTime>{int(utcnow().timestamp())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>{msgid}</MsgID>"
            f"<Status><![CDATA[{status}]]></Status></xml>")


def _event(who: str, event: str) -> str:
    return (f"<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[{who}]]></FromUserName>"
            f"<CreateTime>{int(utcnow().timestamp())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{event}]]></Event></xml>")


def test_template_job_finish_success_marks_delivered_and_user_block_texts(notify_app, fake_wechat, redis):
    class_with_trainees(notify_app, bound=2, unbound=0)
    notify(notify_app)
    with notify_app.app_context():
        msgids = dict(db.session.execute(select(OutboxMessage.trainee_id, OutboxMessage.provider_message_id)).all())
    wechat = WeChatServer(notify_app.test_client(), TEST_TOKEN)
    first, second = sorted(msgids)

    assert wechat.post(_job_finish(openid(1), msgids[first], "success")).data == b"success"
    assert wechat.post(_job_finish(openid(2), msgids[second], "failed:user block")).data == b"success"
    jobs.bind(notify_app)
    jobs.record_job_reports()  # a success is queued, recorded by the scheduler
    with notify_app.app_context():
        rows = {r.trainee_id: r for r in db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.channel == CHANNEL_WECHAT))}
        assert rows[first].delivered_at is not None and rows[first].state == "sent"
        assert rows[second].state == "failed" and rows[second].last_error == "微信未送达（学员拒收）: failed:user block"
        notify_app.extensions["notice_desk"].dispatcher().run(wait=True, max_seconds=10)
    assert [e.body["phone"] for e in sms_sent(redis)] == ["139****0002"]
    assert outbox_states(notify_app)[(CHANNEL_SMS, "sent")] == 1


@pytest.mark.parametrize("state, channel", [(None, CHANNEL_WECHAT), (True, CHANNEL_WECHAT), (False, CHANNEL_SMS)])
def test_an_exam_result_goes_by_the_same_rule_as_a_class_notice(notify_app, state, channel):
    """Not known to have unfollowed → a template message; known to have left → an SMS."""
    from services.notices import notice_templates, notices

    [trainee_id] = class_with_trainees(notify_app, bound=1, unbound=0)
    set_following(notify_app, state)
    with notify_app.app_context():
        templates = notice_templates.load(config.of(notify_app).notice_templates_file, {"exam_result": "tmpl-exam"})
        notice = notices.exam_result(db.session, templates, trainee_id=trainee_id, attempt_id=1, major="建筑工程",
                                     score=80, passed=True, exam_url="https://wx.example/h5/exam", now=utcnow())
        rows = db.session.scalars(select(OutboxMessage.channel).where(OutboxMessage.notice_id == notice.id)).all()
    assert rows == [channel]

