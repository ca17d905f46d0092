"""Classes in the console: list, create, edit (a moved class's reminder moves), members with
their hours, the class-open notice (confirmation, then sending, then delivery) and the retry."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from models import AuditEntry, ClassMember, Notice, OutboxMessage, TrainingClass, WechatUser, db
from models.notices import WITHDRAWN_CLASS_MOVED
from services import keys
from tests import factories
from tests.admin.conftest import console_on
from tests.notify_util import (
    CLASS_CODE,
    class_with_trainees,
    id_card,
    notify_settings,
    openid,
    phone,
    sms_sent,
    template_recipients,
)


def test_create_class_and_list_it(app, console):
    response = console.post("/admin/classes", data={"code": "SZ2702-SZ", "major": "市政公用工程", "name": "市政2期",
                                                    "starts": "2027-04-01 09:00", "place": "苏州培训楼"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/classes/SZ2702-SZ")
    page = console.text("/admin/classes")
    assert "SZ2702-SZ" in page and "市政2期" in page and "2027年4月1日 09:00" in page
    with app.app_context():
        assert db.session.query(AuditEntry).filter_by(action="class_created", target="class:SZ2702-SZ").count() == 1


@pytest.mark.parametrize("field, value, message", [
    ("starts", "明天上午", "格式不对"), ("major", "土木", "不存在"), ("code", "", "不能为空")])
def test_create_refusals_answer_in_chinese_and_keep_the_form(app, console, field, value, message):
    data = {"code": "SZ9", "major": "建筑工程", "name": "班", "starts": "2027-04-01 09:00", "place": "楼", field: value}
    response = console.post("/admin/classes", data=data)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(TrainingClass).count() == 0


def test_class_page_shows_members_with_their_hours(app, console):
    class_with_trainees(app, bound=1, unbound=1)
    page = console.text(f"/admin/classes/{CLASS_CODE}")
    assert "学员1" in page and "学员2" in page and "已绑定" in page and "未绑定" in page
    assert "0 / 16" in page and "0 / 40" in page
    assert phone(1) not in page and "139****0001" in page
    assert console.get("/admin/classes/NOPE").status_code == 404


def class_notice(app, kind: str, key: str, rows: list[tuple[int, str, str, str | None]]) -> None:
    """A notice of the one class (`key` with {id}: the class's id), with outbox rows given as
    (trainee id, channel, state, last error)."""
    with app.app_context():
        training_class = db.session.query(TrainingClass).one()
        notice = Notice(key=key.format(id=training_class.id), kind=kind, class_id=training_class.id,
                        requested_by="scheduler", params={}, recipients=len(rows))
        db.session.add(notice)
        db.session.flush()
        db.session.add_all([OutboxMessage(notice_id=notice.id, trainee_id=trainee_id, channel=channel, state=state,
                                          last_error=error) for trainee_id, channel, state, error in rows])
        db.session.commit()


def test_a_large_class_shows_its_members_and_deliveries_a_page_at_a_time(app, console, monkeypatch):
    """A term's class has thousands: one page of members (`page`) and one of messages (`dpage`), the
    messages needing a person first, the count of each state above; the table's refresh keeps its page."""
    from services.admin import classes

    monkeypatch.setattr(classes, "PAGE_SIZE", 3)
    ids = class_with_trainees(app, bound=0, unbound=7)
    states = dict(zip(ids, ["sent", "failed", "sent", "unknown", "pending", "sent", "sent"], strict=True))
    class_notice(app, "class_open", "class_open:{id}", [(t, "sms", state, None) for t, state in states.items()])

    def names(html: str, section: str = "") -> list[str]:
        part = html.split('id="delivery"')[0 if section == "members" else -1]
        return re.findall(r">(学员\d)</a>", part)

    first = console.text(f"/admin/classes/{CLASS_CODE}")
    assert "学员（7）" in first and names(first, "members") == ["学员1", "学员2", "学员3"]
    assert "第 1 / 3 页，共 7 条" in first and "?page=2#members" in first
    assert names(first) == ["学员4", "学员2", "学员5"]  # unknown, failed, pending; the sent ones later
    assert all(f"{label} <b>{n}</b>" in first for label, n in (("已发送", 4), ("失败", 1), ("待发送", 1)))
    assert "还有 1 条在发送" in first and f"/admin/classes/{CLASS_CODE}/delivery?dpage=1&amp;page=1" in first

    last = console.text(f"/admin/classes/{CLASS_CODE}?page=3&dpage=3")
    assert names(last, "members") == ["学员7"] and names(last) == ["学员7"]
    assert "page=3&amp;dpage=2#delivery" in last  # the members' page is kept by the table's pager
    fragment = console.text(f"/admin/classes/{CLASS_CODE}/delivery?dpage=2&page=3")
    assert names(fragment) == ["学员1", "学员3", "学员6"]
    assert f"/admin/classes/{CLASS_CODE}?page=3&amp;dpage=3#delivery" in fragment


def test_edit_moves_the_class_and_withdraws_its_unsent_reminder(app, console):
    class_with_trainees(app, bound=0, unbound=2)
    class_notice(app, "class_reminder", "class_reminder:{id}:x", [(1, "sms", "sent", None), (2, "sms", "pending", None)])
    response = console.post(f"/admin/classes/{CLASS_CODE}/edit",
                            data={"name": "2027年第1期建筑工程班", "starts": "2027-03-08 09:00", "place": "新地点"})
    assert response.status_code == 302
    page = console.text(f"/admin/classes/{CLASS_CODE}")
    assert "开班时间：2027-03-01 09:00 → 2027-03-08 09:00" in page and "新地点" in page
    with app.app_context():
        training_class = db.session.query(TrainingClass).one()
        assert training_class.starts_at == datetime(2027, 3, 8, 1, 0, tzinfo=UTC)
        rows = db.session.query(OutboxMessage).order_by(OutboxMessage.trainee_id).all()
        assert [(m.state, m.last_error) for m in rows] == [("sent", None), ("withdrawn", WITHDRAWN_CLASS_MOVED)]
        entry = db.session.query(AuditEntry).filter_by(action="class_updated").one()
        assert "撤回旧时间的未发提醒 1 条" in entry.detail
    assert "已撤回" in page


def test_a_moved_class_gets_its_reminder_for_the_new_time(app, console):
    class_with_trainees(app, bound=0, unbound=1)
    notifier = app.extensions["notice_desk"]
    with app.app_context():
        first = [n.id for n in notifier.class_reminders(datetime(2027, 2, 28, 2, 0, tzinfo=UTC))]
        assert len(first) == 1
    console.post(f"/admin/classes/{CLASS_CODE}/edit", data={"name": "2027年第1期建筑工程班",
                                                             "starts": "2027-03-10 09:00", "place": "楼"})
    with app.app_context():
        assert notifier.class_reminders(datetime(2027, 2, 28, 2, 0, tzinfo=UTC)) == []
        moved = notifier.class_reminders(datetime(2027, 3, 9, 2, 0, tzinfo=UTC))
        assert len(moved) == 1 and moved[0].key.endswith("20270310T0100Z")
        assert [m.state for m in db.session.query(OutboxMessage).filter_by(notice_id=first[0])] == ["withdrawn"]


def test_bad_edit_changes_nothing(app, console):
    class_with_trainees(app, bound=0, unbound=1)
    console.post(f"/admin/classes/{CLASS_CODE}/edit", data={"name": "", "starts": "2027-03-08 09:00", "place": "x"})
    assert "班级名称不能为空" in console.text(f"/admin/classes/{CLASS_CODE}")
    with app.app_context():
        assert db.session.query(TrainingClass).one().place.startswith("苏州市姑苏区")


def test_add_and_remove_members(app, console):
    factories.training_class(app)
    tid = factories.trainee(app, name="甲", phone=phone(7), id_card=id_card(7))
    factories.trainee(app, name="乙", phone=phone(8), id_card=id_card(8), majors=(("机电工程", "main"),))
    response = console.post(f"/admin/classes/{CLASS_CODE}/members", data={"who": phone(7)})
    assert response.status_code == 302
    assert "已加入本班：甲" in console.text(f"/admin/classes/{CLASS_CODE}")
    console.post(f"/admin/classes/{CLASS_CODE}/members", data={"who": id_card(8)})
    assert "未报名建筑工程专业" in console.text(f"/admin/classes/{CLASS_CODE}")
    console.post(f"/admin/classes/{CLASS_CODE}/members", data={"who": "12345"})
    assert "请输入学员的手机号" in console.text(f"/admin/classes/{CLASS_CODE}")
    console.post(f"/admin/classes/{CLASS_CODE}/members/{tid}/remove")
    with app.app_context():
        assert db.session.query(ClassMember).count() == 0
        actions = [e.action for e in db.session.query(AuditEntry).order_by(AuditEntry.id)]
        assert actions[-2:] == ["member_added", "member_removed"]


def test_adding_a_member_moves_them_out_of_another_class_of_the_major(app, console):
    factories.training_class(app)
    factories.training_class(app, code="SZ2703-JZ", name="3期")
    factories.trainee(app, name="甲", phone=phone(7), id_card=id_card(7), class_code="SZ2703-JZ")
    console.post(f"/admin/classes/{CLASS_CODE}/members", data={"who": phone(7)})
    assert "从 SZ2703-JZ 转入" in console.text(f"/admin/classes/{CLASS_CODE}")
    with app.app_context():
        assert db.session.query(ClassMember).count() == 1


@pytest.fixture
def notify_app(make_app, fake_wechat):
    return make_app(**notify_settings(fake_wechat))


def test_notify_first_shows_the_counts_and_sends_nothing(notify_app, fake_wechat):
    class_with_trainees(notify_app, bound=2, unbound=1)
    console = console_on(notify_app)
    page = console.post(f"/admin/classes/{CLASS_CODE}/notify").get_data(as_text=True)
    assert 'id="count-wechat">2<' in page and 'id="count-sms">1<' in page and 'name="confirm" value="1"' in page
    with notify_app.app_context():
        assert db.session.query(Notice).count() == 0
    assert template_recipients(fake_wechat) == {}


def test_notify_with_confirm_sends_once_and_shows_each_delivery(notify_app, fake_wechat, redis):
    class_with_trainees(notify_app, bound=2, unbound=1)
    console = console_on(notify_app)
    response = console.post(f"/admin/classes/{CLASS_CODE}/notify", data={"confirm": "1"})
    assert response.status_code == 302
    assert sorted(template_recipients(fake_wechat).values()) == [1, 1] and len(sms_sent(redis)) == 1
    page = console.text(f"/admin/classes/{CLASS_CODE}")
    assert page.count('state state-sent') == 3 and "开班通知" in page
    again = console.post(f"/admin/classes/{CLASS_CODE}/notify").get_data(as_text=True)
    assert 'id="count-wechat">0<' in again and "另有 3 人此前已发过" in again
    console.post(f"/admin/classes/{CLASS_CODE}/notify", data={"confirm": "1"})
    assert sum(template_recipients(fake_wechat).values()) == 2 and len(sms_sent(redis)) == 1
    with notify_app.app_context():
        notice = db.session.scalars(select(Notice)).one()
        assert notice.requested_by == "wang"  # the actor, as in the audit log
        assert db.session.query(AuditEntry).filter_by(action="class_notified").count() == 2
    fragment = console.text(f"/admin/classes/{CLASS_CODE}/delivery")
    assert "delivery-table" in fragment and "<html" not in fragment and "hx-trigger" not in fragment


def test_a_notice_to_many_trainees_is_left_to_the_dispatcher_not_sent_by_the_page(notify_app, fake_wechat, redis,
                                                                                  monkeypatch):
    """Above INLINE_SEND_MAX recipients the page only queues (a term's push would hold a web worker):
    nothing leaves during the request, the page says so, and the dispatcher sends every row once."""
    from wxapp.admin import classes as classes_view
    from wxapp.extensions import notice_desk

    monkeypatch.setattr(classes_view, "INLINE_SEND_MAX", 2)
    class_with_trainees(notify_app, bound=2, unbound=1)
    console = console_on(notify_app)
    assert console.post(f"/admin/classes/{CLASS_CODE}/notify", data={"confirm": "1"}).status_code == 302
    assert template_recipients(fake_wechat) == {} and sms_sent(redis) == []
    assert redis.get(keys.outbox_nudge()) is not None  # the leading scheduler starts its run at once
    page = console.text(f"/admin/classes/{CLASS_CODE}")
    assert "开班通知已排队：学员 3 人，系统正在陆续发送" in page and 'hx-trigger="every 3s"' in page
    with notify_app.app_context():
        assert {r.state for r in db.session.scalars(select(OutboxMessage))} == {"pending"}
        notice_desk().dispatcher().run(wait=True, max_seconds=20)
    assert sorted(template_recipients(fake_wechat).values()) == [1, 1] and len(sms_sent(redis)) == 1
    assert console.text(f"/admin/classes/{CLASS_CODE}").count("state state-sent") == 3


def test_notify_preview_counts_withdrawn_rows_as_to_be_sent_not_as_sent_before(notify_app, fake_wechat):
    """A class-open row withdrawn (the class moved before it went out) goes out again when the notice
    is written again: the preview counts it on its channel, not under 此前已发过."""
    first, second, third = class_with_trainees(notify_app, bound=2, unbound=1)
    class_notice(notify_app, "class_open", "class_open:{id}", [(first, "wechat", "sent", None),
                                                                (second, "wechat", "withdrawn", WITHDRAWN_CLASS_MOVED)])
    console = console_on(notify_app)
    page = console.post(f"/admin/classes/{CLASS_CODE}/notify").get_data(as_text=True)
    assert 'id="count-wechat">1<' in page and 'id="count-sms">1<' in page and "另有 1 人此前已发过" in page
    console.post(f"/admin/classes/{CLASS_CODE}/notify", data={"confirm": "1"})
    assert template_recipients(fake_wechat) == {openid(2): 1}  # the withdrawn one, sent as the preview said
    with notify_app.app_context():
        states = dict(db.session.execute(select(OutboxMessage.trainee_id, OutboxMessage.state)).all())
    assert states == {first: "sent", second: "sent", third: "sent"}


def test_retry_sends_failed_texts_again(make_app, fake_wechat, redis):
    app = make_app(**notify_settings(fake_wechat))
    class_with_trainees(app, bound=0, unbound=2)
    console = console_on(app)
    with app.app_context():
        training_class = db.session.query(TrainingClass).one()
        notice = Notice(key=f"class_open:{training_class.id}", kind="class_open", class_id=training_class.id, requested_by="x",
                        params={"class_name": "班", "class_code": CLASS_CODE, "place": "楼", "major": "建筑工程",
                                "starts_at": "2027年3月1日 09:00", "link": "https://wx.example.test/h5/learn"},
                        recipients=2)
        db.session.add(notice)
        db.session.flush()
        db.session.add_all([OutboxMessage(notice_id=notice.id, trainee_id=1, channel="sms", state="failed",
                                          attempts=1, last_error="未配置短信服务"),
                            OutboxMessage(notice_id=notice.id, trainee_id=2, channel="sms", state="unknown",
                                          attempts=1, next_try_at=datetime.now(UTC) - timedelta(1))])
        db.session.commit()
    response = console.post(f"/admin/classes/{CLASS_CODE}/retry")
    assert response.status_code == 302
    assert len(sms_sent(redis)) == 1
    page = console.text(f"/admin/classes/{CLASS_CODE}")
    assert "已重发失败短信 1 条" in page and 'state state-unknown' in page
    console.post(f"/admin/classes/{CLASS_CODE}/retry")
    assert len(sms_sent(redis)) == 1 and "没有需要重发的短信" in console.text(f"/admin/classes/{CLASS_CODE}")


def test_the_consoles_count_before_sending_is_what_is_sent(notify_app, fake_wechat, redis):
    """The class-open confirmation counts followers of unknown state as WeChat, as the send does."""
    ids = class_with_trainees(notify_app, bound=3, unbound=1)
    with notify_app.app_context():  # one following, one unknown, one known to have left
        for trainee_id, value in zip(ids, (True, None, False), strict=False):
            db.session.query(WechatUser).filter_by(trainee_id=trainee_id).update({"subscribed": value})
        db.session.commit()
    console = console_on(notify_app)
    page = console.post(f"/admin/classes/{CLASS_CODE}/notify").get_data(as_text=True)
    assert 'id="count-wechat">2<' in page and 'id="count-sms">2<' in page
    console.post(f"/admin/classes/{CLASS_CODE}/notify", data={"confirm": "1"})
    assert sorted(template_recipients(fake_wechat)) == [openid(1), openid(2)]
    assert len(sms_sent(redis)) == 2
