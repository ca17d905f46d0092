"""When a major's hours become complete the trainee is told once: 学时已修满，可以参加考试, with the exam's link."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Notice, OutboxMessage, db
from scheduler import jobs
from tests import factories
from tests.exam_util import bank, full_hours, sit
from tests.notify_util import id_card, notify_settings, openid, phone, sms_sent


@pytest.fixture
def notify_app(make_app, fake_wechat):
    return make_app(**notify_settings(fake_wechat))


def hours_notices(app) -> list[tuple[str, dict]]:
    with app.app_context():
        return [(n.key, n.params) for n in db.session.scalars(
            select(Notice).where(Notice.kind == "hours_complete").order_by(Notice.id))]


def test_complete_hours_give_one_notice_with_the_exam_link_and_a_second_run_none(notify_app, redis):
    done = factories.trainee(notify_app, name="学员1", phone=phone(1), id_card=id_card(1))
    halfway = factories.trainee(notify_app, name="学员2", phone=phone(2), id_card=id_card(2))
    full_hours(notify_app, done)
    full_hours(notify_app, halfway, major_done=False)

    with notify_app.app_context():
        jobs.tell_hours_complete()
        jobs.tell_hours_complete()
        jobs.dispatch_outbox()

    [(key, params)] = hours_notices(notify_app)
    assert params == {"major": "建筑工程", "link": "https://wx.example.test/h5/exam"}
    [sms] = sms_sent(redis)  # no WeChat template configured for it here: the text goes by SMS
    assert sms.body["template_code"] == "SMS_HOURS_COMPLETE"
    assert sms.body["params"] == {"name": "学员1", "major": "建筑工程"}


def test_the_template_message_says_the_exam_is_open_and_links_it(make_app, fake_wechat, tmp_path):
    import json
    from pathlib import Path

    templates = json.loads((Path(__file__).resolve().parents[2] / "notice_templates.json").read_text("utf-8"))
    templates["hours_complete"]["wechat"]["template_id"] = "tmpl-hours"
    path = tmp_path / "templates.json"
    path.write_text(json.dumps(templates), encoding="utf-8")
    app = make_app(**notify_settings(fake_wechat, NOTICE_TEMPLATES_FILE=path))
    trainee_id = factories.trainee(app, name="学员1", phone=phone(1), id_card=id_card(1), openid=openid(1))
    full_hours(app, trainee_id)

    with app.app_context():
        jobs.tell_hours_complete()
        jobs.dispatch_outbox()

    [call] = fake_wechat.calls("cgi-bin/message/template/send")
    assert call.json["template_id"] == "tmpl-hours" and call.json["url"] == "https://wx.example.test/h5/exam"
    assert call.json["data"]["thing3"] == {"value": "学时已修满，可以参加考试"}


def test_a_trainee_who_already_sat_the_exam_is_not_told(notify_app):
    bank(notify_app)
    trainee_id = factories.trainee(notify_app, name="学员1", phone=phone(1), id_card=id_card(1))
    full_hours(notify_app, trainee_id)
    sit(notify_app, trainee_id)

    with notify_app.app_context():
        jobs.tell_hours_complete()

    assert hours_notices(notify_app) == []


def test_one_notice_per_major_whose_hours_are_complete(notify_app):
    trainee_id = factories.trainee(notify_app, name="学员1", phone=phone(1), id_card=id_card(1),
                                   majors=(("建筑工程", "main"), ("市政公用工程", "added")))
    full_hours(notify_app, trainee_id, majors=("建筑工程", "市政公用工程"))

    with notify_app.app_context():
        jobs.tell_hours_complete()
        rows = db.session.scalar(select(OutboxMessage.id).limit(1))

    assert [params["major"] for _, params in hours_notices(notify_app)] == ["建筑工程", "市政公用工程"]
    assert rows is not None
