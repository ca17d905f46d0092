"""A notice whose premise changed before it was sent is withdrawn: never sent, never an SMS.

A voided pass's result, a moved or deleted class's opening, a finished trainee's expiry reminder:
each row waits in the outbox (as after a slow provider or a dispatcher that was down) while the
world changes, then the dispatcher claims it and must send nothing."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from models import Enrollment, Notice, OutboxMessage, TrainingClass, db
from models.exam import ExamAttempt
from services.exam import staff
from services.timeutil import utcnow
from tests import factories
from tests.exam_util import bank, full_hours, sit
from tests.notify_util import (
    CLASS_CODE,
    TEMPLATE_PATH,
    class_with_trainees,
    id_card,
    notify_settings,
    openid,
    phone,
    sms_sent,
)
from wxapp.extensions import exam_tools

RESULT_TEMPLATE = "tmpl-exam-result"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def notify_app(make_app, fake_wechat, tmp_path):
    templates = json.loads((REPO_ROOT / "notice_templates.json").read_text(encoding="utf-8"))
    templates["exam_result"]["wechat"]["template_id"] = RESULT_TEMPLATE
    path = tmp_path / "notice_templates.json"
    path.write_text(json.dumps(templates), encoding="utf-8")
    return make_app(**notify_settings(fake_wechat, NOTICE_TEMPLATES_FILE=path))


def dispatch(app):
    """Everything written so far is due (an exam's notices are written at the submit's time)."""
    with app.app_context():
        later = app.extensions["notice_desk"].dispatcher(clock=lambda: utcnow() + timedelta(minutes=5))
        return later.run(wait=True, max_seconds=20)


def rows_of(app, kind: str) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        return db.session.execute(
            select(OutboxMessage.channel, OutboxMessage.state, OutboxMessage.last_error)
            .join(Notice, Notice.id == OutboxMessage.notice_id).where(Notice.kind == kind)
            .order_by(OutboxMessage.id)).all()


def passed_trainee(app) -> tuple[int, int]:
    """A bound trainee who just passed: the result notice is written and waits in the outbox."""
    bank(app)
    trainee_id = factories.trainee(app, name="学员1", phone=phone(1), id_card=id_card(1), openid=openid(1))
    full_hours(app, trainee_id)
    return trainee_id, sit(app, trainee_id)


def test_void_while_the_result_waits_withdraws_it_in_the_same_transaction_and_nothing_is_sent(
        notify_app, fake_wechat, redis):
    _, attempt_id = passed_trainee(notify_app)
    assert rows_of(notify_app, "exam_result") == [("wechat", "pending", None)]

    with notify_app.app_context():
        staff.void(exam_tools(), attempt_id, "王老师", "照片与本人不符", utcnow())
    assert [row[:2] for row in rows_of(notify_app, "exam_result")] == [("wechat", "withdrawn")]
    dispatch(notify_app)

    assert [c for c in fake_wechat.calls(TEMPLATE_PATH) if c.json["template_id"] == RESULT_TEMPLATE] == []
    [(channel, state, why)] = rows_of(notify_app, "exam_result")
    assert (channel, state) == ("wechat", "withdrawn") and "成绩已被取消" in why
    assert [sms.body["template_code"] for sms in sms_sent(redis)] == ["SMS_EXAM_VOIDED"]  # only the void's notice


def test_a_waiting_result_of_an_attempt_voided_since_is_withdrawn_when_claimed(notify_app, fake_wechat, redis):
    _, attempt_id = passed_trainee(notify_app)
    with notify_app.app_context():  # voided behind the outbox's back: the claim's check still holds
        db.session.execute(update(ExamAttempt).where(ExamAttempt.id == attempt_id).values(voided_at=utcnow()))
        db.session.commit()

    dispatch(notify_app)

    assert fake_wechat.calls(TEMPLATE_PATH) == [] and sms_sent(redis) == []
    assert [row[:2] for row in rows_of(notify_app, "exam_result")] == [("wechat", "withdrawn")]
    with notify_app.app_context():
        assert db.session.scalars(select(OutboxMessage.attempts)).all() == [0]  # never tried


def test_a_standing_result_is_still_sent(notify_app, fake_wechat):
    passed_trainee(notify_app)

    dispatch(notify_app)

    assert [c.json["touser"] for c in fake_wechat.calls(TEMPLATE_PATH)] == [openid(1)]
    assert [row[:2] for row in rows_of(notify_app, "exam_result")] == [("wechat", "sent")]


@pytest.mark.parametrize("change", [{"starts_at": timedelta(days=7)}, {"place": "苏州市吴中区新址培训中心"}])
def test_the_opening_of_a_class_moved_after_the_rows_were_written_is_withdrawn(notify_app, fake_wechat, redis,
                                                                             change):
    class_with_trainees(notify_app, bound=2, unbound=1)
    with notify_app.app_context():
        notify_app.extensions["notice_desk"].class_open(CLASS_CODE, "test")
        training_class = db.session.scalars(select(TrainingClass)).one()
        if "starts_at" in change:
            training_class.starts_at = training_class.starts_at + change["starts_at"]
        else:
            training_class.place = change["place"]
        db.session.commit()

    dispatch(notify_app)

    assert fake_wechat.calls(TEMPLATE_PATH) == [] and sms_sent(redis) == []
    assert sorted(row[:2] for row in rows_of(notify_app, "class_open")) == [
        ("sms", "withdrawn"), ("wechat", "withdrawn"), ("wechat", "withdrawn")]
    assert all("已变更" in row[2] for row in rows_of(notify_app, "class_open"))


def test_a_class_notice_asked_again_after_the_move_goes_out_with_the_new_time(notify_app, fake_wechat):
    class_with_trainees(notify_app, bound=1, unbound=0)
    with notify_app.app_context():
        desk = notify_app.extensions["notice_desk"]
        desk.class_open(CLASS_CODE, "test")
        training_class = db.session.scalars(select(TrainingClass)).one()
        training_class.starts_at += timedelta(days=7)
        db.session.commit()
    dispatch(notify_app)
    assert fake_wechat.calls(TEMPLATE_PATH) == []

    with notify_app.app_context():
        notify_app.extensions["notice_desk"].class_open(CLASS_CODE, "test")
    dispatch(notify_app)

    [call] = fake_wechat.calls(TEMPLATE_PATH)
    assert call.json["data"]["time2"] == {"value": "2027年3月8日 09:00"}
    assert [row[:2] for row in rows_of(notify_app, "class_open")] == [("wechat", "sent")]


def test_the_opening_of_a_class_deleted_after_the_rows_were_written_is_withdrawn(notify_app, fake_wechat, redis):
    class_with_trainees(notify_app, bound=1, unbound=1)
    with notify_app.app_context():
        notify_app.extensions["notice_desk"].class_open(CLASS_CODE, "test")
        db.session.execute(delete(TrainingClass))
        db.session.commit()

    dispatch(notify_app)

    assert fake_wechat.calls(TEMPLATE_PATH) == [] and sms_sent(redis) == []
    assert sorted(row[:2] for row in rows_of(notify_app, "class_open")) == [("sms", "withdrawn"),
                                                                            ("wechat", "withdrawn")]
    assert all("已删除" in row[2] for row in rows_of(notify_app, "class_open"))


def test_the_expiry_reminder_of_a_trainee_who_finished_since_is_withdrawn_the_others_sent(notify_app, redis):
    bank(notify_app)
    finishing = factories.trainee(notify_app, name="学员1", phone=phone(1), id_card=id_card(1))
    studying = factories.trainee(notify_app, name="学员2", phone=phone(2), id_card=id_card(2))
    full_hours(notify_app, finishing)
    with notify_app.app_context():
        db.session.execute(update(Enrollment).values(registration_expires=utcnow().date() + timedelta(days=30)))
        db.session.commit()
        notify_app.extensions["notice_desk"].registration_expiry()
    sit(notify_app, finishing)  # passes before the reminder leaves
    with notify_app.app_context():  # only the reminder is left to send
        db.session.execute(delete(OutboxMessage).where(OutboxMessage.notice_id.in_(
            select(Notice.id).where(Notice.kind != "registration_expiry"))))
        db.session.commit()

    dispatch(notify_app)

    [sms] = sms_sent(redis)
    assert sms.body["params"]["name"] == "学员2"
    with notify_app.app_context():
        states = dict(db.session.execute(select(OutboxMessage.trainee_id, OutboxMessage.state)).all())
    assert states == {finishing: "withdrawn", studying: "sent"}


def test_notify_status_lists_withdrawn_messages_as_withdrawn(notify_app):
    class_with_trainees(notify_app, bound=1, unbound=0)
    with notify_app.app_context():
        notify_app.extensions["notice_desk"].class_open(CLASS_CODE, "test")
        db.session.execute(update(TrainingClass).values(place="新地点"))
        db.session.commit()
    dispatch(notify_app)

    result = notify_app.test_cli_runner().invoke(args=["notify", "status", CLASS_CODE])

    assert result.exit_code == 0, result.output
    assert "  微信模板消息：已撤回 1" in result.output.splitlines()
    assert "微信模板消息 已撤回" in result.output and "开班时间或地点已变更" in result.output


def test_the_console_delivery_table_shows_withdrawn_with_the_reason(notify_app):
    from tests.admin.conftest import console_on

    class_with_trainees(notify_app, bound=1, unbound=0)
    with notify_app.app_context():
        notify_app.extensions["notice_desk"].class_open(CLASS_CODE, "test")
        db.session.execute(update(TrainingClass).values(place="新地点"))
        db.session.commit()
    dispatch(notify_app)

    fragment = console_on(notify_app).text(f"/admin/classes/{CLASS_CODE}/delivery")

    assert '<span class="state state-withdrawn">已撤回</span>' in fragment and "开班时间或地点已变更" in fragment


def test_notify_class_open_again_after_a_move_says_the_withdrawn_go_out_with_the_new_time(notify_app, fake_wechat):
    class_with_trainees(notify_app, bound=1, unbound=0)
    with notify_app.app_context():
        notify_app.extensions["notice_desk"].class_open(CLASS_CODE, "test")
        db.session.execute(update(TrainingClass).values(place="新地点"))
        db.session.commit()
    dispatch(notify_app)

    result = notify_app.test_cli_runner().invoke(args=["notify", "class-open", CLASS_CODE])

    assert result.exit_code == 0, result.output
    assert "因开班时间或地点变更而撤回的 1 条按新的时间、地点发送，发送中…" in result.output.splitlines()[0]
    assert [c.json["data"]["thing3"]["value"] for c in fake_wechat.calls(TEMPLATE_PATH)] == ["新地点"]
